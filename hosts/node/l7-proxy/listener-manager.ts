/**
 * Binds the L7 proxy's listeners from compiled LDS resources (core/route/listener-chains.ts) and
 * hands each accepted connection, with the filter chain it matched, to the HTTP engine. Plain
 * listeners are `net` servers; TLS listeners are `tls` servers whose SNI callback picks the chain
 * (exact name, longest wildcard, catch-all, as Envoy) and presents that chain's SDS secret.
 *
 * Reconciling is by (address, port): a listener that stays keeps its socket and reads the new
 * chains for new connections; one that goes stops accepting while its connections finish; a port
 * that cannot be bound is reported in status and retried on the next config, never fatal.
 */
import { createServer as netServer, type Server, type Socket } from 'node:net';
import { createServer as tlsServer, type SecureContext, type TLSSocket } from 'node:tls';
import { selectChain, type CompiledListener, type FilterChain } from '../../../core/route/listener-chains.ts';

export interface AcceptedConnection {
  socket: Socket | TLSSocket;
  listener: CompiledListener;
  chain: FilterChain;
  /** ALPN result on TLS (`h2`, `http/1.1`), undefined on plaintext. */
  alpn?: string;
}

export interface ListenerManagerOptions {
  /** Bind address for listeners written as `0.0.0.0` / `::`. */
  listenHost: string;
  /** An SDS secret's TLS context and PEMs, or undefined while it has not arrived. */
  secret(name: string): ServedSecret | undefined;
  onConnection(c: AcceptedConnection): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

export interface ServedSecret {
  context: SecureContext;
  certPem: string;
  keyPem: string;
}

export interface ListenerStatus {
  name: string;
  address: string;
  port: number;
  tls: boolean;
  state: 'listening' | 'failed';
  error?: string;
}

interface Bound {
  key: string;
  listener: CompiledListener;
  server: Server;
  state: ListenerStatus['state'];
  error?: string;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);

export class ListenerManager {
  readonly #bound = new Map<string, Bound>();

  constructor(private readonly opts: ListenerManagerOptions) {}

  bindAddress(l: CompiledListener): string {
    return WILDCARD.has(l.address) ? this.opts.listenHost : l.address;
  }

  /** Makes the bound set equal to `listeners`; resolves when every new bind has succeeded or failed. */
  async reconcile(listeners: readonly CompiledListener[]): Promise<void> {
    const wanted = new Map<string, CompiledListener>();
    for (const l of listeners) wanted.set(`${this.bindAddress(l)}|${l.port}|${l.tls ? 'tls' : 'plain'}`, l);
    for (const [key, b] of this.#bound) {
      if (wanted.has(key) && b.state === 'listening') continue;
      this.#bound.delete(key);
      b.server.close();
      if (b.state === 'listening') this.opts.log('info', `listener ${b.listener.name} on ${key.split('|').slice(0, 2).join(':')} stopped`);
    }
    const binds: Promise<void>[] = [];
    for (const [key, l] of wanted) {
      const b = this.#bound.get(key);
      if (b) {
        b.listener = l;
        if (l.tls) this.#setFallback(b);
      } else binds.push(this.#bind(key, l));
    }
    await Promise.all(binds);
  }

  #bind(key: string, l: CompiledListener): Promise<void> {
    const host = this.bindAddress(l);
    const b: Bound = { key, listener: l, server: undefined as unknown as Server, state: 'listening' };
    b.server = l.tls ? this.#tlsServer(b) : this.#plainServer(b);
    this.#bound.set(key, b);
    return new Promise((resolve) => {
      b.server.once('error', (err: Error) => {
        b.state = 'failed';
        b.error = err.message;
        this.opts.log('error', `listener ${l.name}: cannot listen on ${host}:${l.port}: ${err.message}`);
        resolve();
      });
      b.server.listen({ host, port: l.port }, () => {
        this.opts.log('info', `listener ${l.name} on ${host}:${l.port}${l.tls ? ' (TLS)' : ''}`);
        resolve();
      });
    });
  }

  #plainServer(b: Bound): Server {
    return netServer({ noDelay: true, allowHalfOpen: false }, (socket) => {
      socket.on('error', () => {});
      const chain = b.listener.chains[0];
      if (!chain) return void socket.destroy();
      this.opts.onConnection({ socket, listener: b.listener, chain });
    });
  }

  #tlsServer(b: Bound): Server {
    const server = tlsServer(
      {
        minVersion: 'TLSv1.2',
        ALPNProtocols: ['h2', 'http/1.1'],
        SNICallback: (servername, cb) => {
          const chain = selectChain(b.listener, servername);
          const ctx = chain?.tlsSecret ? this.opts.secret(chain.tlsSecret)?.context : undefined;
          if (!ctx) return cb(new Error(chain ? `secret ${chain.tlsSecret} is not available` : `no filter chain for SNI ${servername}`), undefined);
          cb(null, ctx);
        },
      },
      (socket: TLSSocket) => {
        socket.on('error', () => {});
        const sni = typeof socket.servername === 'string' ? socket.servername : undefined;
        const chain = selectChain(b.listener, sni);
        if (!chain) return void socket.destroy();
        this.opts.onConnection({ socket, listener: b.listener, chain, alpn: socket.alpnProtocol || undefined });
      },
    );
    this.#setFallback(b, server);
    server.on('tlsClientError', (err: Error) => this.opts.log('debug', `listener ${b.listener.name}: TLS handshake failed: ${err.message}`));
    return server;
  }

  /**
   * A client that sends no SNI gets the catch-all chain's certificate (Node calls the SNI callback
   * only when there is a name), so the server's own context is that chain's secret, set again
   * whenever secrets change.
   */
  #setFallback(b: Bound, server = b.server as ReturnType<typeof tlsServer>): void {
    const name = selectChain(b.listener, undefined)?.tlsSecret;
    const s = name ? this.opts.secret(name) : undefined;
    if (s) server.setSecureContext({ cert: s.certPem, key: s.keyPem });
  }

  /** Secrets changed: TLS listeners take the new catch-all certificate (SNI lookups read them per handshake). */
  secretsChanged(): void {
    for (const b of this.#bound.values()) if (b.listener.tls && b.state === 'listening') this.#setFallback(b);
  }

  status(): ListenerStatus[] {
    return [...this.#bound.values()].map((b) => ({
      name: b.listener.name,
      address: this.bindAddress(b.listener),
      port: b.listener.port,
      tls: b.listener.tls,
      state: b.state,
      ...(b.error ? { error: b.error } : {}),
    }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#bound.values()].map((b) => new Promise<void>((r) => b.server.close(() => r()))));
    this.#bound.clear();
  }
}
