/**
 * The L7 listener: accepts connections (TCP, TLS, or any Duplex handed in, such as an HBONE stream)
 * and picks the protocol: on plaintext, a connection whose first bytes are `PRI ` goes to HTTP/2
 * (prior-knowledge h2c; node:http2 answers a wrong preface with GOAWAY and closes), anything else
 * to the HTTP/1.1 loop; on TLS, ALPN decides (`h2`, else HTTP/1.1). Header and idle timeouts of
 * HTTP/1.1 connections are checked by one sweep timer per server, on a coarse clock it advances,
 * so no timer is armed per request.
 */
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Http2Server, Http2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { createH2Downstream, PEER, type H2DownstreamOptions, type PeerCarrier } from './h2-server.ts';
import type { DownstreamPeer, L7Handler } from './handler.ts';
import { Http1Connection, type Http1Host } from './http1-server.ts';
import { DEFAULT_HEAD_LIMITS, type HeadLimits } from './http1-parser.ts';

export interface L7ServerOptions {
  /** A head must be complete within this after its first byte (default 10 s): else 408 and close. */
  headerTimeoutMs?: number;
  /** An idle keep-alive connection closes after this (default 60 s). */
  idleTimeoutMs?: number;
  /**
   * A request in progress with no byte to or from the client for this long: 408 (client stalled)
   * or 504 (upstream stalled) before the answer started, a reset after (default 0: none; Envoy's
   * stream_idle_timeout).
   */
  streamIdleTimeoutMs?: number;
  limits?: Partial<HeadLimits>;
  /** Accept prior-knowledge h2c on plaintext connections (default true). */
  h2c?: boolean;
  /** Serve TLS with these (key, cert, ...); ALPN offers h2 and http/1.1. */
  tls?: SecureContextOptions & { ALPNProtocols?: string[] };
  h2?: H2DownstreamOptions;
  /** Sweep period, ms (default 250). */
  sweepMs?: number;
}

const PREFACE_START = Buffer.from('PRI ');

export class L7Server implements Http1Host {
  readonly limits: HeadLimits;
  now = Date.now();
  draining = false;
  /** Connections accepted over the server's life (all protocols). */
  accepted = 0;
  readonly connections = new Set<Http1Connection>();
  readonly headerTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly streamIdleTimeoutMs: number;
  readonly h2: Http2Server;
  #h2c: boolean;
  #scheme: 'http' | 'https';
  #listener: NetServer | TlsServer | undefined;
  #sweep: NodeJS.Timeout;
  /** Connections whose first bytes have not come yet, with when they were accepted. */
  #sniffing = new Map<Duplex, number>();
  readonly #sessions = new Set<Http2Session>();
  /** The peer of the connection being handed to node:http2 right now (its session takes it). */
  #nextPeer: DownstreamPeer | undefined = undefined;

  constructor(
    readonly handler: L7Handler,
    readonly options: L7ServerOptions = {},
  ) {
    this.limits = { ...DEFAULT_HEAD_LIMITS, ...options.limits };
    this.headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.streamIdleTimeoutMs = options.streamIdleTimeoutMs ?? 0;
    this.#h2c = options.h2c ?? true;
    this.#scheme = options.tls ? 'https' : 'http';
    this.h2 = createH2Downstream(handler, () => this.#scheme, { streamIdleTimeoutMs: options.streamIdleTimeoutMs, maxHeaderListSize: this.limits.maxHeadBytes, maxHeaderListPairs: this.limits.maxHeaders + 8, ...options.h2 });
    this.h2.on('session', (session: Http2Session) => {
      if (this.#nextPeer !== undefined) (session as Http2Session & PeerCarrier)[PEER] = this.#nextPeer;
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
    });
    this.#sweep = setInterval(this.#onSweep, options.sweepMs ?? 250);
    this.#sweep.unref();
  }

  #onSweep = (): void => {
    const now = Date.now();
    this.now = now;
    for (const c of this.connections) c.checkTimeouts(now, this.headerTimeoutMs, this.idleTimeoutMs, this.streamIdleTimeoutMs);
    for (const [s, since] of this.#sniffing) {
      if (now - since > this.idleTimeoutMs) {
        this.#sniffing.delete(s);
        s.destroy();
      }
    }
  };

  /** Listens on TCP (TLS when `tls` is set). */
  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    const tls = this.options.tls;
    const srv = tls
      ? createTlsServer({ ...tls, ALPNProtocols: tls.ALPNProtocols ?? ['h2', 'http/1.1'] }, (s) => this.handleTls(s))
      : createNetServer({ allowHalfOpen: true, noDelay: true }, (s) => this.handleConnection(s));
    if (tls) (srv as TlsServer).on('tlsClientError', () => {});
    this.#listener = srv;
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        resolve(srv.address() as AddressInfo);
      });
    });
  }

  /** A TLS connection (its handshake done): ALPN picks the protocol. */
  handleTls(s: TLSSocket): void {
    this.accepted++;
    if (s.alpnProtocol === 'h2') {
      this.h2.emit('connection', s);
      return;
    }
    s.setNoDelay?.(true);
    this.#http1(s, undefined, 'https');
  }

  /**
   * A plaintext connection: a TCP socket or any Duplex (an HBONE stream). `remote` names the
   * client when the Duplex is not a socket, and what else the host knows of the peer (its SPIFFE
   * id, the address it sent to); every request view on the connection exposes it (HTTP/1.1 and
   * HTTP/2 alike).
   */
  handleConnection(s: Duplex, remote?: DownstreamPeer): void {
    this.accepted++;
    if (!this.#h2c) {
      this.#http1(s, undefined, 'http', remote);
      return;
    }
    // sniff the first bytes: `PRI ` starts the HTTP/2 preface, no HTTP/1.1 method does
    this.#sniffing.set(s, Date.now());
    const onData = (chunk: Buffer): void => {
      s.off('data', onData);
      s.off('close', onClose);
      this.#sniffing.delete(s);
      const n = Math.min(chunk.length, PREFACE_START.length);
      if (chunk.compare(PREFACE_START, 0, n, 0, n) === 0 && chunk.length >= 1) {
        if (chunk.length < PREFACE_START.length) {
          // too short to tell: wait for more (rare; a client writing byte by byte)
          s.pause();
          s.unshift(chunk);
          this.#waitMore(s, remote);
          return;
        }
        s.pause();
        s.unshift(chunk);
        // node:http2 makes the session (and emits 'session') synchronously: it takes the peer then
        this.#nextPeer = remote;
        try {
          this.h2.emit('connection', s);
        } finally {
          this.#nextPeer = undefined;
        }
        return;
      }
      this.#http1(s, chunk, 'http', remote);
    };
    const onClose = (): void => {
      this.#sniffing.delete(s);
    };
    s.on('data', onData);
    s.on('close', onClose);
    s.on('error', () => {});
  }

  #waitMore(s: Duplex, remote: DownstreamPeer | undefined): void {
    // read everything buffered plus the next chunk, then sniff again
    const buffered: Buffer[] = [];
    let b: Buffer | null;
    while ((b = s.read() as Buffer | null) !== null) buffered.push(b);
    const first = Buffer.concat(buffered);
    s.once('data', (more: Buffer) => {
      s.pause();
      s.unshift(Buffer.concat([first, more]));
      s.resume();
      this.handleConnection(s, remote);
    });
    s.resume();
  }

  #http1(s: Duplex, first: Buffer | undefined, scheme: 'http' | 'https', remote?: DownstreamPeer): void {
    const sock = s as Socket;
    const c = new Http1Connection(this, s, scheme, remote?.address ?? sock.remoteAddress ?? '', remote?.port ?? sock.remotePort ?? 0, remote);
    this.connections.add(c);
    c.start(first);
  }

  connectionClosed(conn: Http1Connection): void {
    this.connections.delete(conn);
  }

  get address(): AddressInfo {
    return this.#listener!.address() as AddressInfo;
  }

  /** Stops accepting, closes idle connections, lets requests in flight finish (bounded by `graceMs`). */
  async close(graceMs = 1000): Promise<void> {
    this.draining = true;
    clearInterval(this.#sweep);
    const l = this.#listener;
    const closed = l ? new Promise<void>((r) => l.close(() => r())) : Promise.resolve();
    for (const c of this.connections) c.drain();
    for (const s of this.#sniffing.keys()) s.destroy();
    for (const session of this.#sessions) session.close(); // GOAWAY; streams in flight finish
    const deadline = Date.now() + graceMs;
    while ((this.connections.size > 0 || this.#sessions.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.connections) c.socket.destroy();
    for (const session of this.#sessions) session.destroy();
    await Promise.race([closed, new Promise((r) => setTimeout(r, graceMs))]);
  }
}
