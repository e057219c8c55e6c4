/**
 * In-pod listeners (ztunnel's in-pod model, design.md 3): the node proxy's 15001 (outbound capture),
 * 15006 (inbound plaintext), 15008 (HBONE) and 15053 (DNS, TCP and UDP) sockets live inside each
 * enrolled pod's network namespace, made there by a short-lived helper (netns-helper.ts) and served
 * here, in the node proxy's event loop. Accepted sockets and datagrams carry the pod-side addresses.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';
import { LISTEN_SCRIPT, runNetnsHelper } from './netns-helper.ts';

export interface PodListenerSpec {
  port: number;
  host?: string;
  /** Default tcp (a listening server); udp binds a datagram socket. */
  proto?: 'tcp' | 'udp';
  /** For `::`: IPv6 only, so it can share the port with a 0.0.0.0 listener. */
  ipv6Only?: boolean;
}

export interface PodListener {
  port: number;
  host: string;
  proto: 'tcp' | 'udp';
  /** A net.Server for tcp, a bound dgram socket for udp. */
  handle: Server | UdpSocket;
}

export interface OpenPodListenersOptions {
  ports: ReadonlyArray<number | PodListenerSpec>;
  /** Address for ports given without one (default 0.0.0.0). */
  host?: string;
  /** Attached as each TCP server's 'connection' listener as soon as it arrives, so no connection waits unseen. */
  onConnection?: (port: number, socket: Socket, listener: PodListener) => void;
  /** Called for each UDP socket as soon as it arrives (attach its 'message' listener there). */
  onDatagramSocket?: (socket: UdpSocket, listener: PodListener) => void;
  timeoutMs?: number;
}

export interface PodListeners {
  /** TCP servers by port (the first one opened on a port, when several addresses share it). */
  servers: Map<number, Server>;
  /** Every socket opened, in the order asked. */
  listeners: PodListener[];
  /** Stops accepting on every port and closes the UDP sockets (connections already accepted are the caller's). */
  close(): Promise<void>;
}

interface ListenMessage {
  port: number;
  host: string;
  proto: 'tcp' | 'udp';
}

export async function openPodListeners(netnsPath: string, opts: OpenPodListenersOptions): Promise<PodListeners> {
  const listen = opts.ports.map((p) => {
    const spec = typeof p === 'number' ? { port: p } : p;
    return { port: spec.port, host: spec.host ?? opts.host ?? '0.0.0.0', proto: spec.proto ?? 'tcp', ipv6Only: spec.ipv6Only ?? false };
  });
  const servers = new Map<number, Server>();
  const listeners: PodListener[] = [];
  await runNetnsHelper<ListenMessage>(netnsPath, LISTEN_SCRIPT, { listen }, {
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    onHandle: ({ message, handle }) => {
      const listener: PodListener = { port: message.port, host: message.host, proto: message.proto, handle: handle as Server | UdpSocket };
      listeners.push(listener);
      if (message.proto === 'udp') {
        const udp = handle as UdpSocket;
        udp.on('error', () => {}); // a send error must not crash the proxy; the pod keeps its other listeners
        opts.onDatagramSocket?.(udp, listener);
        return;
      }
      const server = handle as Server;
      const on = opts.onConnection;
      if (on) server.on('connection', (socket: Socket) => on(message.port, socket, listener));
      server.on('error', () => {}); // an accept error must not crash the proxy; the pod keeps its other listeners
      if (!servers.has(message.port)) servers.set(message.port, server);
    },
  });
  return { servers, listeners, close: () => closeAll(listeners) };
}

/** Closes the sockets at once; server.close()'s callback would wait for every accepted connection to end. */
async function closeAll(listeners: PodListener[]): Promise<void> {
  for (const { handle, proto } of listeners) {
    if (proto === 'tcp') {
      const s = handle as Server;
      if (s.listening) s.close();
    } else {
      try {
        (handle as UdpSocket).close();
      } catch {
        // closed already
      }
    }
  }
}
