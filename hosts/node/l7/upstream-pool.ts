/**
 * HTTP/1.1 upstream connections for one endpoint, kept alive and reused (LIFO, so a few warm
 * connections serve a light load), at most `maxConnections` of them, requests queued (bounded)
 * beyond that. Connections come from a dial function, so the pool runs on any Duplex: a TCP
 * socket, or an HBONE CONNECT stream from hosts/node/hbone's HboneClient.
 *
 * Each connection is the attempt object of the request it carries (no per-request allocation
 * beyond the head string and the outcome): the head goes out in one corked write with the first
 * body bytes, the response head is parsed strictly (http1-parser.ts), the body streams back with
 * backpressure (Content-Length, chunked validated and passed through raw or decoded, or until close).
 *
 * A request is sent again, once, on a fresh connection only when that is safe (RFC 9110 9.2.2): the
 * connection was a reused one, it closed before any response byte, no request body byte was
 * consumed, and the method is idempotent or there was no body.
 */
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ProxiedRequest, Upstream } from './handler.ts';
import { DEFAULT_HEAD_LIMITS, type HeadLimits } from './http1-parser.ts';
import { outcome, UpstreamConn } from './upstream-conn.ts';

/** Opens one connection to the endpoint: a socket (may still be connecting) or a ready Duplex. */
export type Dial = () => Duplex | Promise<Duplex>;

export interface Http1PoolOptions {
  /** Connections per endpoint, busy and idle (default 1024). */
  maxConnections?: number;
  /** Requests waiting for a connection beyond that (default 1024); more: 503 overflow. */
  maxPending?: number;
  /** Idle connections close after this (default 60 s). */
  idleTimeoutMs?: number;
  /** Dial to first byte written, ms (default 10 s). */
  connectTimeoutMs?: number;
  limits?: HeadLimits;
}

/** A TCP dial function with Nagle off. */
export function tcpDial(host: string, port: number): Dial {
  return () => {
    const s = netConnect({ host, port, noDelay: true });
    return s;
  };
}

/** One endpoint's pool. */
export class Http1Endpoint implements Upstream {
  readonly protocol = 'http1' as const;
  readonly idle: UpstreamConn[] = [];
  readonly #pending: ProxiedRequest[] = [];
  #pendingHead = 0;
  total = 0;
  /** Connections dialed over the pool's life (tests check reuse with it). */
  dials = 0;
  readonly maxConnections: number;
  readonly maxPending: number;
  readonly idleTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly limits: HeadLimits;
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly name: string,
    readonly dial: Dial,
    o: Http1PoolOptions = {},
  ) {
    this.maxConnections = o.maxConnections ?? 1024;
    this.maxPending = o.maxPending ?? 1024;
    this.idleTimeoutMs = o.idleTimeoutMs ?? 60_000;
    this.connectTimeoutMs = o.connectTimeoutMs ?? 10_000;
    this.limits = o.limits ?? DEFAULT_HEAD_LIMITS;
  }

  start(req: ProxiedRequest): void {
    if (this.#closed) {
      req.attemptEnded(outcome(0, 'connect-failure', false, req, false, 0, 0, 'the upstream pool is closed'));
      return;
    }
    let c = this.idle.pop();
    while (c !== undefined && c.socket.destroyed) c = this.idle.pop();
    if (c !== undefined) {
      c.send(req, true);
      return;
    }
    if (this.total < this.maxConnections) {
      this.#open(req);
      return;
    }
    if (this.#pending.length - this.#pendingHead >= this.maxPending) {
      req.attemptEnded(outcome(0, 'overflow', false, req, false, 0, 0, `more than ${this.maxPending} requests waiting for ${this.name}`));
      return;
    }
    this.#pending.push(req);
  }

  /** Sends on a new connection (a first request, or a safe retry). */
  #open(req: ProxiedRequest): void {
    this.total++;
    this.dials++;
    this.#ensureSweep();
    let d: Duplex | Promise<Duplex>;
    try {
      d = this.dial();
    } catch (err) {
      this.total--;
      req.attemptEnded(outcome(0, 'connect-failure', false, req, false, 0, 0, (err as Error).message));
      return;
    }
    if (d instanceof Promise) {
      d.then(
        (s) => new UpstreamConn(this, s).send(req, false),
        (err: Error) => {
          this.total--;
          req.attemptEnded(outcome(0, 'connect-failure', false, req, false, 0, 0, err.message));
          this.#next();
        },
      );
    } else new UpstreamConn(this, d).send(req, false);
  }

  retryFresh(req: ProxiedRequest): void {
    if (this.total < this.maxConnections) this.#open(req);
    else this.start(req);
  }

  /** A connection finished its exchange cleanly: give it the next waiting request or keep it idle. */
  release(c: UpstreamConn): void {
    const next = this.#shiftPending();
    if (next !== undefined) {
      c.send(next, true);
      return;
    }
    if (this.#closed) {
      c.socket.destroy();
      return;
    }
    c.idleSince = Date.now();
    this.idle.push(c);
  }

  /** A connection is gone. */
  forget(c: UpstreamConn): void {
    this.total--;
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    this.#next();
  }

  #next(): void {
    if (this.total < this.maxConnections) {
      const next = this.#shiftPending();
      if (next !== undefined) this.#open(next);
    }
  }

  #shiftPending(): ProxiedRequest | undefined {
    let r: ProxiedRequest | undefined;
    do {
      if (this.#pendingHead >= this.#pending.length) return undefined;
      r = this.#pending[this.#pendingHead++];
    } while (r !== undefined && r.finished);
    if (this.#pendingHead > 64 && this.#pendingHead * 2 > this.#pending.length) {
      this.#pending.splice(0, this.#pendingHead);
      this.#pendingHead = 0;
    }
    return r;
  }

  #ensureSweep(): void {
    if (this.#sweep !== undefined) return;
    const every = Math.max(100, Math.min(1000, this.idleTimeoutMs / 2));
    this.#sweep = setInterval(() => {
      const now = Date.now();
      for (let i = this.idle.length - 1; i >= 0; i--) {
        const c = this.idle[i]!;
        if (now - c.idleSince > this.idleTimeoutMs) c.socket.destroy();
      }
    }, every);
    this.#sweep.unref();
  }

  close(): void {
    this.#closed = true;
    if (this.#sweep) clearInterval(this.#sweep);
    for (const c of this.idle.splice(0)) c.socket.destroy();
  }
}

export { UpstreamConn };
