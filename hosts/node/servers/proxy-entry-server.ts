/**
 * The node proxy's explicit entry (design.md 1 and 3): SOCKS5 and HTTP CONNECT on one port
 * (15080), for apps where traffic capture is impossible. The first byte decides: 0x05 is SOCKS5
 * (RFC 1928), anything else is read as an HTTP/1.1 CONNECT request. Where the bytes go is not
 * decided here: `onConnect` (planning + HBONE, plugged in by the node proxy) returns a stream, or
 * a refusal that is translated into the protocol's own reply code.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ConnectOutcome, EntryHost, EntryRequest } from './entry-api.ts';
import { EntryConnection, Phase } from './entry-connection.ts';

export type { ConnectOutcome, EntryRequest, Refusal, RefuseReason, Tunnel } from './entry-api.ts';

export interface ProxyEntryOptions {
  /** Listen address; loopback by default: an entry open to the network would be an open proxy. */
  host?: string;
  /** Default 15080; 0 picks a free port (tests). */
  port?: number;
  /** Makes the tunnel for a request. Domain names arrive unresolved (`isName`). */
  onConnect(req: EntryRequest): Promise<ConnectOutcome>;
  /** A client must finish its handshake within this time (default 10 s). */
  handshakeTimeoutMs?: number;
  /** onConnect must settle within this time (default 10 s), else the client is told and `signal` aborts. */
  connectTimeoutMs?: number;
  log?(level: 'debug' | 'warn', message: string): void;
}

export class ProxyEntryServer implements EntryHost {
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  private readonly conns = new Set<EntryConnection>();
  private server: Server | undefined;
  private bound: AddressInfo | undefined;
  private emptied: (() => void) | undefined;

  constructor(private readonly options: ProxyEntryOptions) {
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  onConnect(req: EntryRequest): Promise<ConnectOutcome> {
    return this.options.onConnect(req);
  }

  log(level: 'debug' | 'warn', message: string): void {
    this.options.log?.(level, message);
  }

  untrack(conn: EntryConnection): void {
    this.conns.delete(conn);
    if (this.conns.size === 0 && this.emptied) {
      this.emptied();
      this.emptied = undefined;
    }
  }

  /** Connections accepted and not yet closed (handshaking, connecting or tunnelling). */
  get connections(): number {
    return this.conns.size;
  }

  get address(): AddressInfo | undefined {
    return this.bound;
  }

  async start(): Promise<AddressInfo> {
    if (this.server) throw new Error('ProxyEntryServer already started');
    // allowHalfOpen: a client's FIN is forwarded upstream while the response keeps flowing back.
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    server.on('connection', (socket: Socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 15080, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    // After listen, errors are per accept (EMFILE...): report them, keep serving.
    server.on('error', (err) => this.log('warn', `SOCKS/CONNECT listener: ${err.message}`));
    this.server = server;
    this.bound = server.address() as AddressInfo;
    return this.bound;
  }

  private accept(socket: Socket): void {
    if (!socket.remoteAddress) {
      socket.destroy(); // already gone
      return;
    }
    this.conns.add(EntryConnection.accept(this, socket));
  }

  /**
   * Stops accepting, closes connections still in their handshake at once, lets tunnels finish for
   * up to `graceMs`, then closes them too. Resolves when every connection is closed.
   */
  async drain(graceMs = 5000): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const empty = this.conns.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.emptied = resolve));
    for (const c of this.conns) if (c.phase !== Phase.Spliced) c.destroy();
    const timer = setTimeout(() => {
      for (const c of this.conns) c.destroy();
    }, graceMs);
    timer.unref();
    await Promise.all([closed, empty]);
    clearTimeout(timer);
  }
}
