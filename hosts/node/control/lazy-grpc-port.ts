/**
 * A gRPC port whose server is made on its first connection (`weft up`): the port is bound at start,
 * as the banner promises, but grpc-js (+2.1 MB of heap and ~5 MB RSS once its module code runs; in the
 * bundle it loads only when a server, client or credentials object is made, build.mjs) and the
 * server's HTTP/2 stack are paid only when a proxy or tool outside the process connects. The first
 * connection is handed to the server in the same tick it arrives (grpc-js's connection injector),
 * so nothing it sent is lost.
 */
import { createServer, type Server as NetServer } from 'node:net';
import type { Server, ServerCredentials } from '@grpc/grpc-js';

export interface LazyGrpcPort {
  readonly port: number;
  /** The gRPC server, once a connection made it. */
  readonly server: Server | undefined;
  /** Stops accepting; the gRPC server (if any) is shut down by its owner. */
  close(): Promise<void>;
}

/** `onError`: making the server failed (the connection is closed; the next one tries again). */
export function listenLazily(host: string, port: number, make: () => { server: Server; creds: ServerCredentials }, onError: (err: Error) => void): Promise<LazyGrpcPort> {
  let made: { server: Server; inject(socket: import('node:net').Socket): void } | undefined;
  const listener: NetServer = createServer((socket) => {
    if (!made) {
      try {
        const { server, creds } = make();
        const injector = server.createConnectionInjector(creds);
        made = { server, inject: (s) => injector.injectConnection(s) };
      } catch (err) {
        // in a connection handler a throw would end the process: this port's server only is lost
        socket.destroy();
        onError(err as Error);
        return;
      }
    }
    made.inject(socket);
  });
  return new Promise((resolve, reject) => {
    listener.once('error', (err) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`)));
    listener.listen(port, host, () => {
      const addr = listener.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : port,
        get server() {
          return made?.server;
        },
        close: () => new Promise<void>((r) => listener.close(() => r())),
      });
    });
  });
}
