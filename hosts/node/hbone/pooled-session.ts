/**
 * One pooled HBONE connection (TLS + HTTP/2 session) and its bookkeeping: how many streams it
 * carries, whether it may take another (not closing, not GOAWAY'd, under the stream limit, made
 * with the source certificate now current), an idle timer that closes it when unused, and an
 * HTTP/2 PING keepalive: a PING every `keepalive.intervalMs`; one not answered within
 * `keepalive.timeoutMs` means the peer is gone, and the session is destroyed (its streams reset,
 * the pool forgets it, the next connect dials again).
 */
import type { ClientHttp2Session } from 'node:http2';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { DialedSession } from './dial.ts';

export interface KeepaliveOptions {
  intervalMs: number;
  timeoutMs: number;
}

export class PooledSession {
  readonly key: string;
  readonly session: ClientHttp2Session;
  readonly socket: TLSSocket;
  readonly peerIdentity: string;
  readonly maxStreams: number;
  /** The source certificate's context this session was made with: a rotation retires the session. */
  readonly secureContext: SecureContext;
  readonly resumed: boolean;
  readonly createdAt = Date.now();
  /** Streams open or being opened (reserved synchronously, so a burst cannot overfill a session). */
  streams = 0;
  /** Streams ever opened on it. */
  opened = 0;
  /** No new streams: GOAWAY received, closing, idle-closed, or its certificate rotated. */
  retired = false;
  goaway?: { code: number; reason: string };
  /** PINGs answered; set when one went unanswered and the session was destroyed for it. */
  pings = 0;
  deadPeer?: string;
  #idle?: NodeJS.Timeout;
  #keepalive?: NodeJS.Timeout;
  #pingDeadline?: NodeJS.Timeout;
  readonly #idleMs: number;
  readonly #onGone: (s: PooledSession) => void;

  constructor(key: string, d: DialedSession, secureContext: SecureContext, idleMs: number, onGone: (s: PooledSession) => void, keepalive?: KeepaliveOptions) {
    this.key = key;
    this.session = d.session;
    this.socket = d.socket;
    this.peerIdentity = d.peerIdentity;
    this.maxStreams = d.maxStreams;
    this.resumed = d.resumed;
    this.secureContext = secureContext;
    this.#idleMs = idleMs;
    this.#onGone = onGone;
    const s = d.session;
    s.on('goaway', (code: number, _last: number, data?: Buffer) => {
      this.goaway = { code, reason: data?.length ? data.toString('utf8') : `GOAWAY code ${code}` };
      this.retire();
    });
    // stream errors reach the stream's owner; a session error only retires the session here
    s.on('error', () => this.retire());
    s.once('close', () => {
      this.retired = true;
      this.#clearIdle();
      this.#stopKeepalive();
      this.#onGone(this);
    });
    this.#armIdle();
    if (keepalive && keepalive.intervalMs > 0) {
      this.#keepalive = setInterval(() => this.#ping(keepalive.timeoutMs), keepalive.intervalMs);
      this.#keepalive.unref();
    }
  }

  /** One PING; no answer within `timeoutMs` destroys the session. One PING in flight at a time. */
  #ping(timeoutMs: number): void {
    if (this.#pingDeadline || this.session.closed || this.session.destroyed) return;
    const deadline = setTimeout(() => {
      this.deadPeer = `no answer to an HTTP/2 PING within ${timeoutMs} ms`;
      this.destroy(new Error(`HBONE connection to ${this.peerIdentity}: ${this.deadPeer}`));
    }, timeoutMs);
    deadline.unref();
    this.#pingDeadline = deadline;
    let sent = false;
    try {
      sent = this.session.ping((err) => {
        clearTimeout(deadline);
        this.#pingDeadline = undefined;
        if (!err) this.pings++;
      });
    } catch {
      // the session is closing
    }
    if (!sent) {
      clearTimeout(deadline);
      this.#pingDeadline = undefined;
    }
  }

  #stopKeepalive(): void {
    if (this.#keepalive) clearInterval(this.#keepalive);
    if (this.#pingDeadline) clearTimeout(this.#pingDeadline);
    this.#keepalive = this.#pingDeadline = undefined;
  }

  /** May this session take one more stream for a source whose current context is `ctx`? */
  usable(ctx: SecureContext): boolean {
    if (this.retired || this.session.closed || this.session.destroyed) return false;
    if (ctx !== this.secureContext) {
      this.retire();
      return false;
    }
    return this.streams < this.maxStreams;
  }

  reserve(): void {
    this.streams++;
    this.opened++;
    this.#clearIdle();
  }

  release(): void {
    this.streams--;
    if (this.streams === 0) {
      if (this.retired) this.#close();
      else this.#armIdle();
    }
  }

  /** Take no new streams; close once the streams in flight are done. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    this.#onGone(this);
    if (this.streams === 0) this.#close();
  }

  destroy(err?: Error): void {
    this.retired = true;
    this.#clearIdle();
    this.#stopKeepalive();
    this.#onGone(this);
    this.session.destroy(err);
  }

  #close(): void {
    this.#clearIdle();
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  #armIdle(): void {
    this.#clearIdle();
    this.#idle = setTimeout(() => this.retire(), this.#idleMs);
    this.#idle.unref();
  }

  #clearIdle(): void {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = undefined;
  }
}
