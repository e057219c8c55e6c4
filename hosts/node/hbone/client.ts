/**
 * HboneClient: the outbound half of HBONE (issue 3, design.md 3). `connect()` opens one HTTP/2
 * CONNECT stream to `destination` (ip, port 15008) with `:authority` = the target `ip:port` and the
 * caller's `forwarded` / `baggage` / `traceparent` headers, and resolves with the tunnel when the
 * answer is 200.
 *
 * Connections are pooled by (source identity, destination identities, destination ip:port), as
 * ztunnel's WorkloadKey: all streams to one peer share one TLS + HTTP/2 connection; another is
 * opened when it is closing, GOAWAY'd, at its stream limit, or made with a source certificate that
 * has since rotated (so new streams carry the new certificate while old ones finish). Unused
 * connections close after the idle timeout; an HTTP/2 PING every 30 s finds a dead peer (no answer in
 * 10 s: the connection is destroyed). TLS tickets are kept per source certificate and
 * destination, so a new connection to a known peer resumes instead of doing a full handshake.
 */
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { formatAuthority } from './authority.ts';
import { HANDSHAKE_TIMEOUT_MS, HBONE_PORT, KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS, POOL_IDLE_TIMEOUT_MS } from './constants.ts';
import { dialHbone, REFUSAL_GOAWAY_CODE } from './dial.ts';
import { HboneError } from './errors.ts';
import { PooledSession, type KeepaliveOptions } from './pooled-session.ts';

/** Where the client gets the source workload's TLS context (CertificateManager fits). */
export interface ClientCertificates {
  get(identity: string): Promise<{ secureContext: SecureContext }>;
  /** Optional synchronous fast path: the valid certificate held now. */
  current?(identity: string): { secureContext: SecureContext } | undefined;
}

export interface HboneClientOptions {
  certificates: ClientCertificates;
  /** Trust domains accepted for the server when no expected identity is given. */
  trustDomains?: readonly string[];
  idleTimeoutMs?: number;
  /** Bound on dial + TLS + CONNECT answer; default 10 s. */
  connectTimeoutMs?: number;
  /** TLS session resumption (default on). */
  resumption?: boolean;
  /**
   * HTTP/2 PING keepalive on each pooled connection (default: every 30 s, dead after 10 s without
   * an answer; `false` turns it off). A dead connection is destroyed and the next stream dials anew.
   */
  keepalive?: Partial<KeepaliveOptions> | false;
  dial?: (ip: string, port: number) => Socket;
}

export interface ConnectOptions {
  sourceIdentity: string;
  destination: { ip: string; port?: number };
  /** The server must present one of these SPIFFE ids. */
  expectedIdentities?: readonly string[];
  /** The CONNECT target, `ip:port` of the workload. */
  authority: string;
  /** `forwarded`, `baggage` (core/node/hbone-headers.ts builds them), `traceparent`. */
  headers?: Readonly<Record<string, string>>;
}

export interface HboneTunnel {
  /** The tunnel: a Duplex. `end()` half-closes (END_STREAM); `close(code)` resets it. */
  stream: ClientHttp2Stream;
  peerIdentity: string;
  responseHeaders: IncomingHttpHeaders;
  /** Whether the stream went over an existing connection. */
  reused: boolean;
}

export interface PoolStats {
  key: string;
  peerIdentity: string;
  streams: number;
  opened: number;
  maxStreams: number;
  retired: boolean;
  resumed: boolean;
  /** PINGs answered on it. */
  pings: number;
}

export class HboneClient {
  readonly #o: HboneClientOptions;
  readonly #pools = new Map<string, PooledSession[]>();
  readonly #dialing = new Map<string, Promise<PooledSession>>();
  readonly #tickets = new WeakMap<SecureContext, Map<string, Buffer>>();
  #closed = false;
  /** Connections dialed over the client's life (tests and benchmarks check pooling with it). */
  dials = 0;

  constructor(o: HboneClientOptions) {
    this.#o = o;
  }

  async connect(c: ConnectOptions): Promise<HboneTunnel> {
    if (this.#closed) throw new HboneError('closed', 'the HBONE client is closed');
    const port = c.destination.port ?? HBONE_PORT;
    const expected = c.expectedIdentities ?? [];
    const key = `${c.sourceIdentity}|${expected.join(',')}|${formatAuthority(c.destination.ip, port)}`;
    for (let attempt = 0; ; attempt++) {
      const ctx = await this.#context(c.sourceIdentity);
      let session: PooledSession | undefined;
      try {
        const acquired = await this.#acquire(key, ctx, c, port, expected);
        session = acquired.session;
        return await this.#open(session, c, acquired.reused);
      } catch (err) {
        // a stream refused because the connection was being closed under it (GOAWAY in flight,
        // idle close, rotation) never reached the server; nor did anything on a new connection that
        // was reset, or got a graceful GOAWAY, before its first stream (a server retiring the
        // connections made with a certificate it has just rotated): one retry on a fresh connection
        const unsent = session ? session.retired && session.goaway?.code !== REFUSAL_GOAWAY_CODE : true;
        if (attempt === 0 && err instanceof HboneError && err.reason === 'upstream-reset' && unsent) continue;
        throw err;
      }
    }
  }

  /** The pooled connections, for `/config_dump` and tests. */
  stats(): PoolStats[] {
    return [...this.#pools.values()].flat().map((s) => ({ key: s.key, peerIdentity: s.peerIdentity, streams: s.streams, opened: s.opened, maxStreams: s.maxStreams, retired: s.retired, resumed: s.resumed, pings: s.pings }));
  }

  /** Closes pooled connections gracefully; `force` resets streams in flight. */
  close(force = false): void {
    this.#closed = true;
    for (const s of [...this.#pools.values()].flat()) (force ? s.destroy() : s.retire());
    this.#pools.clear();
  }

  async #context(identity: string): Promise<SecureContext> {
    const now = this.#o.certificates.current?.(identity);
    if (now) return now.secureContext;
    try {
      return (await this.#o.certificates.get(identity)).secureContext;
    } catch (err) {
      throw new HboneError('no-certificate', `no certificate for ${identity}: ${(err as Error).message}`, { cause: err });
    }
  }

  async #acquire(key: string, ctx: SecureContext, c: ConnectOptions, port: number, expected: readonly string[]): Promise<{ session: PooledSession; reused: boolean }> {
    for (;;) {
      for (const s of this.#pools.get(key) ?? []) {
        if (s.usable(ctx)) {
          // a session this very call just dialed has carried nothing yet: not a reuse
          const reused = s.opened > 0;
          s.reserve();
          return { session: s, reused };
        }
      }
      const pending = this.#dialing.get(key);
      if (pending) {
        const s = await pending;
        if (s.usable(ctx)) {
          s.reserve();
          return { session: s, reused: s.opened > 0 };
        }
        continue;
      }
      const dial = this.#dial(key, ctx, c, port, expected);
      this.#dialing.set(key, dial);
      try {
        await dial;
      } finally {
        this.#dialing.delete(key);
      }
    }
  }

  async #dial(key: string, ctx: SecureContext, c: ConnectOptions, port: number, expected: readonly string[]): Promise<PooledSession> {
    const dest = formatAuthority(c.destination.ip, port);
    const resumption = this.#o.resumption !== false;
    let tickets = this.#tickets.get(ctx);
    if (resumption && !tickets) this.#tickets.set(ctx, (tickets = new Map()));
    this.dials++;
    const d = await dialHbone({
      ip: c.destination.ip,
      port,
      sourceIdentity: c.sourceIdentity,
      secureContext: ctx,
      expectedIdentities: expected,
      trustDomains: this.#o.trustDomains ?? [],
      timeoutMs: this.#o.connectTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      ...(tickets?.get(dest) ? { ticket: tickets.get(dest)! } : {}),
      ...(tickets ? { onTicket: (t: Buffer) => tickets.set(dest, t) } : {}),
      ...(this.#o.dial ? { dial: this.#o.dial } : {}),
    });
    if (this.#closed) {
      d.session.destroy();
      throw new HboneError('closed', 'the HBONE client is closed');
    }
    const ka = this.#o.keepalive;
    const keepalive = ka === false ? undefined : { intervalMs: ka?.intervalMs ?? KEEPALIVE_INTERVAL_MS, timeoutMs: ka?.timeoutMs ?? KEEPALIVE_TIMEOUT_MS };
    const s = new PooledSession(key, d, ctx, this.#o.idleTimeoutMs ?? POOL_IDLE_TIMEOUT_MS, (gone) => this.#remove(gone), keepalive);
    const list = this.#pools.get(key);
    if (list) list.push(s);
    else this.#pools.set(key, [s]);
    return s;
  }

  #remove(s: PooledSession): void {
    const list = this.#pools.get(s.key);
    if (!list) return;
    const i = list.indexOf(s);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#pools.delete(s.key);
  }

  #open(s: PooledSession, c: ConnectOptions, reused: boolean): Promise<HboneTunnel> {
    return new Promise<HboneTunnel>((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = s.session.request({ ...c.headers, ':method': 'CONNECT', ':authority': c.authority }, { endStream: false });
      } catch (err) {
        s.release();
        s.retire();
        return reject(new HboneError('upstream-reset', `HBONE CONNECT ${c.authority} via ${s.key}: ${(err as Error).message}`, { cause: err }));
      }
      stream.once('close', () => s.release());
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        reject(new HboneError('timeout', `HBONE CONNECT ${c.authority}: no answer from ${s.peerIdentity} within ${this.#o.connectTimeoutMs ?? HANDSHAKE_TIMEOUT_MS} ms`));
      }, this.#o.connectTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
      const early = (err?: Error): void => {
        clearTimeout(timer);
        const why = s.goaway ? ` (${s.goaway.reason})` : err ? `: ${err.message}` : stream.rstCode ? ` (RST_STREAM code ${stream.rstCode})` : '';
        reject(new HboneError(s.goaway?.code === REFUSAL_GOAWAY_CODE ? 'peer-refused' : 'upstream-reset', `HBONE CONNECT ${c.authority} to ${s.peerIdentity}: the stream closed before an answer${why}`, { cause: err }));
      };
      stream.once('error', early);
      stream.once('close', early);
      stream.once('response', (headers) => {
        clearTimeout(timer);
        stream.off('error', early).off('close', early);
        const status = Number(headers[':status']);
        if (status === 200) return resolve({ stream, peerIdentity: s.peerIdentity, responseHeaders: headers, reused });
        // a refusal carries a short text body saying why
        let body = '';
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => void (body.length < 1024 && (body += d)));
        stream.on('error', () => {});
        const finish = (): void => reject(new HboneError('http-status', `HBONE CONNECT ${c.authority} to ${s.peerIdentity}: ${status}${body ? ` ${body.trim()}` : ''}`, { status }));
        stream.once('end', finish);
        stream.once('close', finish);
      });
    });
  }
}
