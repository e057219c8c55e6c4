/**
 * In-pod listeners (ztunnel's in-pod model, design.md 3): the node proxy's 15001 (outbound capture),
 * 15006 (inbound plaintext) and 15008 (HBONE) listening sockets live inside each enrolled pod's network
 * namespace, made there by a short-lived helper (netns-helper.ts) and accepted here, in the node
 * proxy's event loop. Accepted sockets carry the pod-side addresses.
 */
import type { Server, Socket } from 'node:net';
import { LISTEN_SCRIPT, runNetnsHelper } from './netns-helper.ts';

export interface PodListenerSpec {
  port: number;
  host?: string;
}

export interface OpenPodListenersOptions {
  ports: ReadonlyArray<number | PodListenerSpec>;
  /** Address for ports given without one (default 0.0.0.0). */
  host?: string;
  /** Attached as each server's 'connection' listener as soon as it arrives, so no connection waits unseen. */
  onConnection?: (port: number, socket: Socket) => void;
  timeoutMs?: number;
}

export interface PodListeners {
  /** By port. */
  servers: Map<number, Server>;
  /** Stops accepting on every port (connections already accepted are the caller's). */
  close(): Promise<void>;
}

export async function openPodListeners(netnsPath: string, opts: OpenPodListenersOptions): Promise<PodListeners> {
  const listen = opts.ports.map((p) => (typeof p === 'number' ? { port: p, host: opts.host ?? '0.0.0.0' } : { port: p.port, host: p.host ?? opts.host ?? '0.0.0.0' }));
  const servers = new Map<number, Server>();
  const on = opts.onConnection;
  await runNetnsHelper<{ port: number; host: string }>(netnsPath, LISTEN_SCRIPT, { listen }, {
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    onHandle: ({ message, handle }) => {
      const server = handle as Server;
      if (on) server.on('connection', (socket: Socket) => on(message.port, socket));
      server.on('error', () => {}); // an accept error must not crash the proxy; the pod keeps its other listeners
      servers.set(message.port, server);
    },
  });
  return { servers, close: () => closeServers([...servers.values()]) };
}

/** Closes the listening sockets at once; server.close()'s callback would wait for every accepted connection to end. */
async function closeServers(servers: Server[]): Promise<void> {
  for (const s of servers) if (s.listening) s.close();
}
