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
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ChunkedDecoder, type ChunkSink } from './chunked.ts';
import { BodyKind, HOP_BY_HOP, ResponseBody, type Attempt, type BodyTarget, type ProxiedRequest, type Upstream, type UpstreamFailure, type UpstreamOutcome } from './handler.ts';
import { DEFAULT_HEAD_LIMITS, Framing, HeadError, HeadReader, hasToken, parseHead, type HeadLimits, type Http1Head } from './http1-parser.ts';
import { WRITE_LIMIT } from './http1-server.ts';

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

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

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
    if (this.#pendingHead >= this.#pending.length) return undefined;
    const r = this.#pending[this.#pendingHead++];
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

function outcome(status: number, failure: UpstreamFailure, committed: boolean, req: ProxiedRequest, reused: boolean, requestBytes: number, responseBytes: number, message: string): UpstreamOutcome {
  return { status, failure, committed, replayable: req.bodyKind === BodyKind.None || !req.bodyStarted, reused, requestBytes, responseBytes, message };
}

const enum RS {
  Head,
  Body,
  Done,
}

/** One upstream connection; the attempt of the request it carries. */
export class UpstreamConn implements Attempt, BodyTarget, ChunkSink {
  req: ProxiedRequest | undefined = undefined;
  idleSince = 0;
  reused = false;
  connected: boolean;
  readonly reader: HeadReader;
  #rs = RS.Head;
  #head: Http1Head | undefined = undefined;
  #remaining = 0;
  #decoder: ChunkedDecoder | undefined = undefined;
  #rawOut = false;
  #chunkIn = false;
  #reqBodyDone = true;
  #gotBytes = false;
  #requestBytes = 0;
  #responseBytes = 0;
  #status = 0;
  #paused = false;
  #bodyWaiting = false;
  #timer: NodeJS.Timeout | undefined = undefined;
  #discard = false;
  #gone = false;

  constructor(
    readonly pool: Http1Endpoint,
    readonly socket: Duplex,
  ) {
    this.reader = new HeadReader(false, pool.limits);
    const s = socket as Socket;
    this.connected = !(s.connecting === true);
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    if (!this.connected) {
      s.once('connect', this.#onConnect);
      s.setTimeout(pool.connectTimeoutMs, this.#onConnectTimeout);
    }
  }

  #onConnect = (): void => {
    this.connected = true;
    (this.socket as Socket).setTimeout(0);
  };

  #onConnectTimeout = (): void => {
    if (!this.connected) {
      this.#fail('connect-failure', `connect timeout after ${this.pool.connectTimeoutMs} ms`);
    }
  };

  send(req: ProxiedRequest, reused: boolean): void {
    this.req = req;
    this.reused = reused;
    this.#rs = RS.Head;
    this.#head = undefined;
    this.#decoder = undefined;
    this.#gotBytes = false;
    this.#requestBytes = 0;
    this.#responseBytes = 0;
    this.#status = 0;
    this.#discard = false;
    req.attach(this);
    let s = `${req.method} ${req.target} HTTP/1.1\r\nhost: ${req.authority}\r\n`;
    const f = req.fields;
    for (let i = 0; i < f.length; i += 2) s += `${f[i]}: ${f[i + 1]}\r\n`;
    this.#chunkIn = false;
    switch (req.bodyKind) {
      case BodyKind.None:
        this.#reqBodyDone = true;
        if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') s += 'content-length: 0\r\n';
        break;
      case BodyKind.Length:
        this.#reqBodyDone = false;
        s += `content-length: ${req.bodyLength}\r\n`;
        break;
      case BodyKind.Stream:
        this.#reqBodyDone = false;
        s += 'transfer-encoding: chunked\r\n';
        this.#chunkIn = !req.chunkedSource;
        break;
    }
    if (req.upgrade !== '') s += `connection: upgrade\r\nupgrade: ${req.upgrade}\r\n`;
    if (req.timeoutMs > 0) this.#timer = setTimeout(this.#onTimeout, req.timeoutMs);
    const sock = this.socket;
    sock.cork();
    sock.write(`${s}\r\n`, 'latin1');
    if (!this.#reqBodyDone) req.startBody(this, true);
    sock.uncork();
  }

  // ---- request body (BodyTarget)
  bodyData(buf: Buffer): boolean {
    if (this.req === undefined || this.socket.destroyed) return true;
    this.#requestBytes += buf.length;
    const sock = this.socket;
    if (this.#chunkIn) {
      if (buf.length === 0) return true;
      sock.write(`${buf.length.toString(16)}\r\n`, 'latin1');
      sock.write(buf);
      sock.write('\r\n', 'latin1');
    } else sock.write(buf);
    if (sock.writableLength > WRITE_LIMIT) {
      this.#bodyWaiting = true;
      return false;
    }
    return true;
  }

  bodyEnd(trailers: string[] | undefined): void {
    this.#reqBodyDone = true;
    if (this.req === undefined || this.socket.destroyed) return;
    if (this.#chunkIn) {
      let s = '0\r\n';
      if (trailers !== undefined) for (let i = 0; i < trailers.length; i += 2) s += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
      this.socket.write(`${s}\r\n`, 'latin1');
    }
    if (this.#rs === RS.Done) this.#complete();
  }

  #onDrain = (): void => {
    if (this.#bodyWaiting) {
      this.#bodyWaiting = false;
      this.req?.resumeBody();
    }
  };

  // ---- response
  #onData = (chunk: Buffer): void => {
    const req = this.req;
    if (req === undefined) {
      // bytes on an idle connection: the upstream is confused; drop the connection
      this.socket.destroy();
      return;
    }
    this.#gotBytes = true;
    req.cork();
    try {
      this.#parse(req, chunk, 0);
    } catch (err) {
      if (err instanceof HeadError) this.#fail('protocol-error', `upstream ${err.message}`);
      else {
        this.#fail('protocol-error', `internal error: ${(err as Error).message}`);
        process.emitWarning(`weft l7: ${(err as Error).stack ?? err}`);
      }
    } finally {
      req.uncork();
    }
  };

  #parse(req: ProxiedRequest, buf: Buffer, off: number): void {
    while (off < buf.length) {
      if (this.#rs === RS.Head) {
        const end = this.reader.push(buf, off);
        if (end < 0) return;
        const hb = this.reader.buffer();
        const head = parseHead(hb, this.reader.start, end, false, this.pool.limits, req.method);
        buf = hb;
        off = end;
        if (head.status < 200) {
          if (head.status === 101 && req.upgrade !== '') {
            this.#upgraded(req, head, buf, off);
            return;
          }
          continue; // 100 Continue (answered downstream by the engine), 103: dropped
        }
        this.#head = head;
        this.#status = head.status;
        if (!this.#responseHead(req, head)) return;
        continue;
      }
      if (this.#rs === RS.Done) {
        // bytes past a complete response: the upstream does not frame its messages; never reuse
        this.#head!.close = true;
        return;
      }
      // body
      const head = this.#head!;
      switch (head.framing) {
        case Framing.Length: {
          const n = Math.min(this.#remaining, buf.length - off);
          this.#remaining -= n;
          this.#bodyChunk(req, off === 0 && n === buf.length ? buf : buf.subarray(off, off + n));
          off += n;
          if (this.#remaining === 0) this.#done();
          break;
        }
        case Framing.Chunked: {
          const d = this.#decoder!;
          const end = d.feed(buf, off, buf.length);
          if (this.#rawOut) {
            const e = end < 0 ? buf.length : end;
            this.#bodyChunk(req, off === 0 && e === buf.length ? buf : buf.subarray(off, e));
          }
          if (end < 0) return;
          off = end;
          this.#done();
          break;
        }
        default:
          this.#bodyChunk(req, off === 0 ? buf : buf.subarray(off));
          return;
      }
    }
  }

  #responseHead(req: ProxiedRequest, head: Http1Head): boolean {
    const fields = responseFields(head);
    let kind: ResponseBody;
    let length = -1;
    switch (head.framing) {
      case Framing.None:
        kind = ResponseBody.None;
        length = head.contentLength;
        break;
      case Framing.Length:
        kind = ResponseBody.Length;
        length = head.contentLength;
        this.#remaining = head.contentLength;
        break;
      case Framing.Chunked:
        this.#rawOut = req.acceptsChunkedRaw;
        kind = this.#rawOut ? ResponseBody.ChunkedRaw : ResponseBody.Stream;
        this.#decoder = new ChunkedDecoder(this.#rawOut ? undefined : this, 502);
        break;
      default:
        kind = ResponseBody.Stream;
        break;
    }
    this.#rs = RS.Body;
    if (!req.responseHead(head.status, fields, kind, length)) {
      // the handler took the exchange back (a retry): this response is not wanted
      this.#discard = true;
      this.req = undefined;
      this.#clearTimer();
      this.socket.destroy();
      return false;
    }
    if (kind === ResponseBody.None) this.#done();
    return true;
  }

  #bodyChunk(req: ProxiedRequest, buf: Buffer): void {
    this.#responseBytes += buf.length;
    if (!req.responseData(buf)) this.#pause();
  }

  onChunkData(buf: Buffer, start: number, end: number): void {
    const req = this.req!;
    this.#responseBytes += end - start;
    if (!req.responseData(buf.subarray(start, end))) this.#pause();
  }

  onTrailers(fields: string[]): void {
    this.req?.responseTrailers(fields);
  }

  #pause(): void {
    if (!this.#paused) {
      this.#paused = true;
      this.socket.pause();
    }
  }

  resumeResponse(): void {
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
  }

  /** The response is complete; the connection is reusable once the request body is sent too. */
  #done(): void {
    this.#rs = RS.Done;
    if (this.#reqBodyDone) this.#complete();
    else {
      // answered before the request body ended (an early 413, 401...): finish now, never reuse
      this.#head!.close = true;
      this.#complete();
    }
  }

  #complete(): void {
    const req = this.req;
    if (req === undefined) return;
    this.req = undefined;
    this.#clearTimer();
    this.reader.reset();
    const head = this.#head!;
    const o = outcome(this.#status, 'none', true, req, this.reused, this.#requestBytes, this.#responseBytes, '');
    if (this.#paused) {
      this.#paused = false;
      this.socket.resume();
    }
    if (!head.close && this.#reqBodyDone && !this.socket.destroyed) {
      this.#rs = RS.Head;
      this.pool.release(this);
    } else {
      this.#gone = true;
      this.socket.destroy();
    }
    req.attemptEnded(o);
  }

  #upgraded(req: ProxiedRequest, head: Http1Head, buf: Buffer, off: number): void {
    this.#clearTimer();
    this.req = undefined;
    this.#gone = true;
    const s = this.socket;
    s.off('data', this.#onData);
    s.off('drain', this.#onDrain);
    s.off('end', this.#onEnd);
    s.off('error', this.#onError);
    s.off('close', this.#onClose);
    this.#forgotten = true;
    this.pool.forget(this);
    const fields: string[] = [];
    const h = head.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i] !== 'connection') fields.push(h[i]!, h[i + 1]!);
    req.upgraded(fields, s, off < buf.length ? buf.subarray(off) : undefined);
  }

  #onTimeout = (): void => {
    this.#timer = undefined;
    this.#fail('timeout', `no complete response within ${this.req?.timeoutMs} ms`);
  };

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** The client went away or the exchange moved on. */
  abort(): void {
    if (this.req === undefined) return;
    this.req = undefined;
    this.#clearTimer();
    this.#gone = true;
    this.socket.destroy();
  }

  #onEnd = (): void => {
    const req = this.req;
    if (req !== undefined && this.#rs === RS.Body && this.#head?.framing === Framing.UntilClose) {
      this.#head.close = true;
      this.#done();
      return;
    }
    if (req !== undefined) this.#fail('upstream-reset', 'upstream closed the connection');
    else this.socket.destroy();
  };

  #onError = (err: Error): void => {
    if (this.req !== undefined) this.#fail(this.connected ? 'upstream-reset' : 'connect-failure', err.message);
  };

  #onClose = (): void => {
    if (this.req !== undefined) this.#fail(this.connected ? 'upstream-reset' : 'connect-failure', 'upstream connection closed');
    if (!this.#forgotten) {
      this.#forgotten = true;
      this.pool.forget(this);
    }
  };

  #forgotten = false;

  #fail(failure: UpstreamFailure, message: string): void {
    const req = this.req;
    this.req = undefined;
    this.#clearTimer();
    if (!this.socket.destroyed) this.socket.destroy();
    if (req === undefined) return;
    // safe retry: a reused connection that died before any response byte
    if (
      (failure === 'upstream-reset') &&
      this.reused &&
      !this.#gotBytes &&
      (req.bodyKind === BodyKind.None || (!req.bodyStarted && IDEMPOTENT.has(req.method))) &&
      (IDEMPOTENT.has(req.method) || req.bodyKind === BodyKind.None)
    ) {
      if (!this.#forgotten) {
        this.#forgotten = true;
        this.pool.forget(this);
      }
      this.pool.retryFresh(req);
      return;
    }
    const committed = this.#rs !== RS.Head && !this.#discard;
    req.attemptEnded(outcome(this.#status, failure, committed, req, this.reused, this.#requestBytes, this.#responseBytes, message));
  }
}

/** Response fields to pass on: hop-by-hop and framing fields dropped (the engine re-frames). */
function responseFields(head: Http1Head): string[] {
  const h = head.headers;
  const conn = head.connection;
  const out: string[] = [];
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i]!;
    if (HOP_BY_HOP.has(n)) continue;
    if (conn !== '' && conn !== 'keep-alive' && conn !== 'close' && hasToken(conn, n)) continue;
    out.push(n, h[i + 1]!);
  }
  return out;
}
