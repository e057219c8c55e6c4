/**
 * HboneServer: the inbound half of HBONE (15008). It terminates mutual TLS 1.3 with ALPN h2 using
 * the certificate of the destination workload (chosen by the address the connection arrived on,
 * the pod IP, through the `certificate()` hook), judges the peer (chain from the mesh root, valid,
 * SPIFFE id in an accepted trust domain), and hands each HTTP/2 CONNECT stream to `onTunnel`.
 *
 * Refusals are clean and the server serves on: a non-TLS client gets a plaintext 400 (HTTP) or a
 * close; TLS below 1.3 or without h2 fails the handshake (or gets a 400 over TLS); a refused peer
 * gets GOAWAY INADEQUATE_SECURITY with the reason as debug data; a non-CONNECT request or a
 * malformed `:authority` gets 400. Every refusal is an event ('refused', RefusalEvent).
 *
 * It accepts sockets from anywhere: `listen()` for its own listener, `attach(netServer)` for one made
 * elsewhere (the capture helper's in-pod listeners), or `handleConnection(socket)` directly.
 * One Http2SecureServer (never listening) is kept per certificate, so Node does TLS, verification
 * and HTTP/2 with public APIs; a rotation makes a new one, and `retire(oldCertificate)` sends
 * GOAWAY to the connections made with the old one so that clients move to the new certificate while
 * their streams in flight finish.
 */
import { EventEmitter } from 'node:events';
import { createSecureServer, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parseAuthority } from './authority.ts';
import { CONNECTION_WINDOW, H2_SETTINGS, HANDSHAKE_TIMEOUT_MS, HBONE_CIPHERSUITES, MAX_SESSION_MEMORY_MB, SERVER_MAX_CONCURRENT_STREAMS } from './constants.ts';
import { REFUSAL_GOAWAY_CODE } from './dial.ts';
import { InboundTunnel, respondStatus, type PeerConnection } from './inbound-tunnel.ts';
import { judgePeer } from './server-peer.ts';

/** Key material to present (a WorkloadCertificate from the CertificateManager fits). */
export interface ServerCertificate {
  keyPem: string;
  /** Leaf first; roots in it are not sent. */
  chainPems: readonly string[];
  /** Mesh roots that client chains must lead to. */
  rootPems: readonly string[];
}

export interface ConnectionInfo {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

export interface HboneServerOptions {
  /** The certificate of the workload at `localAddress` (its pod IP); undefined refuses the connection. */
  certificate(conn: ConnectionInfo): ServerCertificate | undefined | Promise<ServerCertificate | undefined>;
  /** Trust domains a peer's SPIFFE id may be in (the mesh's and its aliases). */
  trustDomains: readonly string[];
  onTunnel(tunnel: InboundTunnel): void;
  handshakeTimeoutMs?: number;
}

export interface RefusalEvent {
  stage: 'connection' | 'stream';
  reason: string;
  message: string;
  remoteAddress?: string;
  peerIdentity?: string;
}

const PLAINTEXT_400 = (why: string): string =>
  `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(why) + 1}\r\n\r\n${why}\n`;
const NOT_HBONE = 'this port speaks HBONE: mutual TLS 1.3 with ALPN h2, then HTTP/2 CONNECT';

export class HboneServer extends EventEmitter {
  readonly #o: HboneServerOptions;
  readonly #h2 = new WeakMap<ServerCertificate, Http2SecureServer>();
  readonly #sessions = new Map<ServerHttp2Session, PeerConnection>();
  readonly #listeners = new Set<Server>();
  #closing = false;
  /** Counters for tests and /stats. */
  readonly counts = { connections: 0, sessions: 0, tunnels: 0, refused: 0 };

  constructor(o: HboneServerOptions) {
    super();
    this.#o = o;
    this.handleConnection = this.handleConnection.bind(this);
  }

  /** Listens itself (`port` 15008 in production, 0 in tests). */
  listen(port: number, host?: string): Promise<AddressInfo> {
    const server = createServer({ noDelay: true }, this.handleConnection);
    this.#listeners.add(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve(server.address() as AddressInfo));
    });
  }

  /** Serves the connections of a `net.Server` made elsewhere (an in-pod listener). */
  attach(server: Server): this {
    server.on('connection', this.handleConnection);
    return this;
  }

  detach(server: Server): this {
    server.off('connection', this.handleConnection);
    return this;
  }

  /** Takes one accepted TCP connection. Never throws. */
  handleConnection(raw: Socket): void {
    this.counts.connections++;
    raw.on('error', () => {});
    if (this.#closing) return void raw.destroy();
    raw.setNoDelay(true);
    const info: ConnectionInfo = { localAddress: raw.localAddress ?? '', localPort: raw.localPort ?? 0, remoteAddress: raw.remoteAddress ?? '', remotePort: raw.remotePort ?? 0 };
    const timer = setTimeout(() => this.#refuseRaw(raw, info, 'timeout', 'no TLS ClientHello in time'), this.#o.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    raw.once('close', () => clearTimeout(timer));
    raw.once('data', (first: Buffer) => {
      clearTimeout(timer);
      raw.pause();
      raw.unshift(first);
      // 0x16: a TLS handshake record. Anything else is not HBONE: say so to an HTTP client.
      if (first[0] !== 0x16) return this.#refuseRaw(raw, info, 'not-tls', NOT_HBONE, /^[A-Z]{3,7} /.test(first.toString('latin1', 0, 8)));
      Promise.resolve()
        .then(() => this.#o.certificate(info))
        .then(
          (cert) => {
            if (raw.destroyed) return;
            if (!cert) return this.#refuseRaw(raw, info, 'no-certificate', `no workload certificate for ${info.localAddress}`);
            this.#serverFor(cert).emit('connection', raw);
          },
          (err: Error) => this.#refuseRaw(raw, info, 'no-certificate', `no workload certificate for ${info.localAddress}: ${err.message}`),
        );
    });
  }

  /** GOAWAY to every connection made with `cert` (after a rotation); their streams finish. */
  retire(cert: ServerCertificate): number {
    this.#h2.delete(cert);
    let n = 0;
    for (const [session, conn] of this.#sessions) {
      if (conn.certificate !== cert || session.closed) continue;
      session.close();
      n++;
    }
    return n;
  }

  /** Live connections (peer, addresses) for `/config_dump` and tests. */
  connections(): { peerIdentity: string; remoteAddress: string; localAddress: string; streams: number }[] {
    return [...this.#sessions.values()].map((c) => ({ peerIdentity: c.peerIdentity, remoteAddress: c.remoteAddress, localAddress: c.localAddress, streams: c.streams }));
  }

  /** Sessions as Node sees them (tests read windows from `session.state`). */
  sessions(): ServerHttp2Session[] {
    return [...this.#sessions.keys()];
  }

  /** Stops listening, sends GOAWAY, waits up to `graceMs` for streams to finish, then destroys. */
  async close(graceMs = 5000): Promise<void> {
    this.#closing = true;
    for (const l of this.#listeners) l.close();
    const all = [...this.#sessions.keys()];
    for (const s of all) s.close();
    const closed = Promise.all(all.map((s) => (s.destroyed ? undefined : new Promise((r) => s.once('close', r)))));
    const timer = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([closed, timer]);
    for (const s of this.#sessions.keys()) s.destroy();
  }

  #serverFor(cert: ServerCertificate): Http2SecureServer {
    let s = this.#h2.get(cert);
    if (s) return s;
    const roots = new Set(cert.rootPems.map((p) => p.replace(/\s+/g, '')));
    s = createSecureServer({
      key: cert.keyPem,
      cert: cert.chainPems.filter((p, i) => i === 0 || !roots.has(p.replace(/\s+/g, ''))).join(''),
      ca: [...cert.rootPems],
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers: HBONE_CIPHERSUITES,
      honorCipherOrder: true,
      requestCert: true,
      // verdicts are ours (server-peer.ts): a refused peer learns why through GOAWAY debug data
      rejectUnauthorized: false,
      allowHTTP1: false,
      settings: { ...H2_SETTINGS, maxConcurrentStreams: SERVER_MAX_CONCURRENT_STREAMS },
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
      handshakeTimeout: this.#o.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      sessionTimeout: 300,
    });
    s.on('session', (session: ServerHttp2Session) => this.#onSession(session, cert));
    s.on('tlsClientError', (err: Error, tls: TLSSocket) => this.#refused({ stage: 'connection', reason: 'tls-handshake', message: `TLS handshake failed: ${err.message} (HBONE needs TLS 1.3, ALPN h2 and a client certificate)`, remoteAddress: tls.remoteAddress }));
    s.on('unknownProtocol', (tls: TLSSocket) => {
      this.#refused({ stage: 'connection', reason: 'alpn', message: `client did not negotiate ALPN h2 (${tls.alpnProtocol || 'none'})`, remoteAddress: tls.remoteAddress });
      tls.on('error', () => {});
      tls.end(PLAINTEXT_400(NOT_HBONE));
      setTimeout(() => tls.destroy(), 1000).unref();
    });
    s.on('sessionError', () => {});
    this.#h2.set(cert, s);
    return s;
  }

  #onSession(session: ServerHttp2Session, cert: ServerCertificate): void {
    session.on('error', () => {});
    const tls = session.socket as unknown as TLSSocket;
    const verdict = judgePeer(tls, this.#o.trustDomains);
    if (!verdict.ok) {
      this.#refused({ stage: 'connection', reason: verdict.reason, message: verdict.message, remoteAddress: tls.remoteAddress });
      session.goaway(REFUSAL_GOAWAY_CODE, 0, Buffer.from(verdict.message));
      session.close();
      setTimeout(() => session.destroy(), 2000).unref();
      return;
    }
    try {
      session.setLocalWindowSize(CONNECTION_WINDOW);
    } catch {
      // the session is already gone
    }
    this.counts.sessions++;
    const conn: PeerConnection = {
      peerIdentity: verdict.identity,
      peerTrustDomain: verdict.trustDomain,
      remoteAddress: tls.remoteAddress ?? '',
      remotePort: tls.remotePort ?? 0,
      localAddress: tls.localAddress ?? '',
      localPort: tls.localPort ?? 0,
      tls,
      certificate: cert,
      streams: 0,
    };
    this.#sessions.set(session, conn);
    session.once('close', () => this.#sessions.delete(session));
    session.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.#onStream(conn, stream, headers));
  }

  #onStream(conn: PeerConnection, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    conn.streams++;
    stream.once('close', () => conn.streams--);
    const method = headers[':method'];
    if (method !== 'CONNECT') return this.#refuseStream(conn, stream, 400, 'non-connect', `HBONE accepts only CONNECT, not ${method}`);
    const a = parseAuthority(headers[':authority']);
    if (!a.ok) return this.#refuseStream(conn, stream, 400, 'bad-authority', a.message);
    this.counts.tunnels++;
    try {
      this.#o.onTunnel(new InboundTunnel(conn, stream, headers, a.target));
    } catch (err) {
      this.#refuseStream(conn, stream, 500, 'internal', `internal error: ${(err as Error).message}`);
    }
  }

  #refuseStream(conn: PeerConnection, stream: ServerHttp2Stream, status: number, reason: string, message: string): void {
    this.#refused({ stage: 'stream', reason, message, remoteAddress: conn.remoteAddress, peerIdentity: conn.peerIdentity });
    respondStatus(stream, status, message);
  }

  #refuseRaw(raw: Socket, info: ConnectionInfo, reason: string, message: string, http = false): void {
    this.#refused({ stage: 'connection', reason, message, remoteAddress: info.remoteAddress });
    if (http && !raw.destroyed) {
      raw.end(PLAINTEXT_400(message));
      setTimeout(() => raw.destroy(), 1000).unref();
    } else raw.destroy();
  }

  #refused(e: RefusalEvent): void {
    this.counts.refused++;
    this.emit('refused', e);
  }
}
