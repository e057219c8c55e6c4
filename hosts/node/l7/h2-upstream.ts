/**
 * HTTP/2 upstream for one endpoint (gRPC backends, services whose port says http2/grpc/h2c): a few
 * node:http2 client sessions over dialed Duplexes (TCP or an HBONE stream), each carrying up to the
 * peer's MAX_CONCURRENT_STREAMS; a new session opens when all are full, GOAWAY'd or closed. Each
 * request is one stream: head mapped to HTTP/2 fields (`te: trailers` kept for gRPC), body and
 * response (with trailers) streamed. A stream refused (REFUSED_STREAM, or a GOAWAY before it was
 * processed) is sent again on a fresh session when it is replayable.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import { addFields } from './h2-server.ts';
import { BodyKind, ResponseBody, WRITE_LIMIT, type Attempt, type BodyTarget, type ProxiedRequest, type Upstream, type UpstreamFailure } from './handler.ts';
import type { Dial } from './upstream-pool.ts';

export interface H2PoolOptions {
  /** Sessions per endpoint (default 4). */
  maxSessions?: number;
  /** Streams per session when the peer allows more (default 100). */
  maxStreamsPerSession?: number;
  /** A session with no streams closes after this (default 60 s). */
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
}

interface PooledH2 {
  session: ClientHttp2Session;
  streams: number;
  ready: boolean;
  dead: boolean;
  waiting: ProxiedRequest[];
}

export class H2Endpoint implements Upstream {
  readonly protocol = 'h2' as const;
  readonly sessions: PooledH2[] = [];
  dials = 0;
  readonly #o: Required<H2PoolOptions>;
  #closed = false;

  constructor(
    readonly name: string,
    readonly dial: Dial,
    o: H2PoolOptions = {},
  ) {
    this.#o = { maxSessions: o.maxSessions ?? 4, maxStreamsPerSession: o.maxStreamsPerSession ?? 100, idleTimeoutMs: o.idleTimeoutMs ?? 60_000, connectTimeoutMs: o.connectTimeoutMs ?? 10_000 };
  }

  start(req: ProxiedRequest): void {
    this.#start(req, false);
  }

  #start(req: ProxiedRequest, fresh: boolean): void {
    if (this.#closed) {
      failEarly(req, 'connect-failure', 'the upstream pool is closed');
      return;
    }
    let best: PooledH2 | undefined;
    if (!fresh) {
      for (const p of this.sessions) {
        if (p.dead) continue;
        const limit = Math.min(this.#o.maxStreamsPerSession, p.session.remoteSettings?.maxConcurrentStreams ?? 100);
        if (p.streams + p.waiting.length < limit && (best === undefined || p.streams < best.streams)) best = p;
      }
    }
    if (best === undefined && (fresh || this.sessions.filter((p) => !p.dead).length < this.#o.maxSessions)) best = this.#open();
    if (best === undefined) best = this.sessions.filter((p) => !p.dead).sort((a, b) => a.streams - b.streams)[0];
    if (best === undefined) {
      failEarly(req, 'overflow', `no HTTP/2 session available to ${this.name}`);
      return;
    }
    if (!best.ready) {
      best.waiting.push(req);
      return;
    }
    new H2Attempt(this, best, req, fresh).send();
  }

  #open(): PooledH2 {
    this.dials++;
    const p: PooledH2 = { session: undefined as unknown as ClientHttp2Session, streams: 0, ready: false, dead: false, waiting: [] };
    this.sessions.push(p);
    const fail = (msg: string): void => {
      if (p.dead) return;
      p.dead = true;
      const i = this.sessions.indexOf(p);
      if (i >= 0) this.sessions.splice(i, 1);
      for (const r of p.waiting.splice(0)) failEarly(r, 'connect-failure', msg);
    };
    const withSocket = (sock: Duplex): void => {
      const session = connect(`http://${this.name}`, {
        createConnection: () => sock,
        settings: { enablePush: false, initialWindowSize: 1 << 20 },
        peerMaxConcurrentStreams: this.#o.maxStreamsPerSession,
      });
      p.session = session;
      const timer = setTimeout(() => {
        fail(`HTTP/2 connect timeout after ${this.#o.connectTimeoutMs} ms`);
        session.destroy();
      }, this.#o.connectTimeoutMs);
      session.once('remoteSettings', () => {
        clearTimeout(timer);
        if (p.dead) return;
        p.ready = true;
        for (const r of p.waiting.splice(0)) new H2Attempt(this, p, r, false).send();
      });
      session.on('error', (err: Error) => fail(err.message));
      session.on('goaway', () => {
        p.dead = true;
        const i = this.sessions.indexOf(p);
        if (i >= 0) this.sessions.splice(i, 1);
      });
      session.on('close', () => {
        clearTimeout(timer);
        fail('upstream HTTP/2 session closed');
      });
      session.setTimeout(this.#o.idleTimeoutMs, () => {
        if (p.streams === 0) session.close();
      });
    };
    try {
      const d = this.dial();
      if (d instanceof Promise) d.then(withSocket, (err: Error) => fail(err.message));
      else withSocket(d);
    } catch (err) {
      queueMicrotask(() => fail((err as Error).message));
    }
    return p;
  }

  retry(req: ProxiedRequest): void {
    this.#start(req, true);
  }

  close(): void {
    this.#closed = true;
    for (const p of this.sessions.splice(0)) {
      p.dead = true;
      p.session?.close();
    }
  }
}

function failEarly(req: ProxiedRequest, failure: UpstreamFailure, message: string): void {
  req.attemptEnded({ status: 0, failure, committed: false, replayable: req.bodyKind === BodyKind.None || !req.bodyStarted, reused: false, requestBytes: 0, responseBytes: 0, message });
}

class H2Attempt implements Attempt, BodyTarget {
  stream: ClientHttp2Stream | undefined;
  #status = 0;
  #headSent = false;
  #gotResponse = false;
  #done = false;
  #requestBytes = 0;
  #responseBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #paused = false;
  #bodyWaiting = false;

  constructor(
    readonly pool: H2Endpoint,
    readonly p: PooledH2,
    readonly req: ProxiedRequest,
    readonly fresh: boolean,
  ) {}

  send(): void {
    const req = this.req;
    req.attach(this);
    const h: OutgoingHttpHeaders = { ':method': req.method, ':path': req.target, ':authority': req.authority, ':scheme': req.scheme };
    addFields(h, req.fields);
    if (req.grpc) h.te = 'trailers';
    if (req.bodyKind === BodyKind.Length) h['content-length'] = req.bodyLength;
    const endStream = req.bodyKind === BodyKind.None;
    let s: ClientHttp2Stream;
    try {
      s = this.p.session.request(h, { endStream });
    } catch (err) {
      this.p.dead = true;
      this.#end('upstream-reset', (err as Error).message);
      return;
    }
    this.stream = s;
    this.p.streams++;
    s.on('response', this.#onResponse);
    s.on('data', this.#onData);
    s.on('trailers', this.#onTrailers);
    s.on('end', this.#onEnd);
    s.on('close', this.#onClose);
    s.on('error', () => {});
    s.on('drain', this.#onDrain);
    if (req.timeoutMs > 0) this.#timer = setTimeout(this.#onTimeout, req.timeoutMs);
    if (!endStream) req.startBody(this, false);
  }

  bodyData(buf: Buffer): boolean {
    const s = this.stream;
    if (s === undefined || s.destroyed) return true;
    this.#requestBytes += buf.length;
    if (!s.write(buf) && s.writableLength > WRITE_LIMIT) {
      this.#bodyWaiting = true;
      return false;
    }
    return true;
  }

  bodyEnd(_trailers: string[] | undefined): void {
    const s = this.stream;
    if (s !== undefined && !s.destroyed) s.end();
  }

  #onDrain = (): void => {
    if (this.#bodyWaiting) {
      this.#bodyWaiting = false;
      this.req.resumeBody();
    }
  };

  #onResponse = (headers: IncomingHttpHeaders, flags: number): void => {
    if (this.#done) return;
    const status = Number(headers[':status']);
    if (status < 200) return;
    this.#gotResponse = true;
    this.#status = status;
    const fields: string[] = [];
    let length = -1;
    for (const [k, v] of Object.entries(headers)) {
      if (k.charCodeAt(0) === 0x3a || v === undefined) continue;
      if (k === 'content-length') {
        length = Number(v);
        continue;
      }
      if (Array.isArray(v)) for (const x of v) fields.push(k, x);
      else fields.push(k, String(v));
    }
    const endStream = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    const kind = endStream || this.req.method === 'HEAD' || status === 204 || status === 304 ? ResponseBody.None : length >= 0 ? ResponseBody.Length : ResponseBody.Stream;
    this.#headSent = true;
    if (!this.req.responseHead(status, fields, kind, kind === ResponseBody.None ? (endStream ? (length >= 0 ? length : -1) : length) : length)) {
      this.#done = true;
      this.#clearTimer();
      this.stream?.close(constants.NGHTTP2_CANCEL);
    }
  };

  #onData = (buf: Buffer): void => {
    if (this.#done) return;
    this.#responseBytes += buf.length;
    if (!this.req.responseData(buf)) {
      this.#paused = true;
      this.stream!.pause();
    }
  };

  resumeResponse(): void {
    if (this.#paused) {
      this.#paused = false;
      this.stream?.resume();
    }
  }

  #onTrailers = (headers: IncomingHttpHeaders): void => {
    if (this.#done) return;
    const list: string[] = [];
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined || k.charCodeAt(0) === 0x3a) continue;
      if (Array.isArray(v)) for (const x of v) list.push(k, x);
      else list.push(k, String(v));
    }
    this.req.responseTrailers(list);
  };

  #onEnd = (): void => {
    if (this.#gotResponse) this.#end('none', '');
  };

  #onClose = (): void => {
    this.p.streams--;
    if (this.#done) return;
    const s = this.stream!;
    const code = s.rstCode ?? 0;
    if (this.#gotResponse && code === 0 && s.readableEnded) {
      this.#end('none', '');
      return;
    }
    // refused before processing: safe to send again on a fresh session
    if (!this.#gotResponse && (code === constants.NGHTTP2_REFUSED_STREAM || this.p.dead) && !this.fresh && (this.req.bodyKind === BodyKind.None || !this.req.bodyStarted)) {
      this.#done = true;
      this.#clearTimer();
      this.pool.retry(this.req);
      return;
    }
    this.#end('upstream-reset', `upstream stream reset (code ${code})`);
  };

  #onTimeout = (): void => {
    this.#timer = undefined;
    this.stream?.close(constants.NGHTTP2_CANCEL);
    this.#end('timeout', `no complete response within ${this.req.timeoutMs} ms`);
  };

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #end(failure: UpstreamFailure, message: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#clearTimer();
    this.req.attemptEnded({ status: this.#status, failure, committed: this.#headSent, replayable: this.req.bodyKind === BodyKind.None || !this.req.bodyStarted, reused: !this.fresh, requestBytes: this.#requestBytes, responseBytes: this.#responseBytes, message });
  }

  abort(): void {
    if (this.#done) return;
    this.#done = true;
    this.#clearTimer();
    const s = this.stream;
    if (s !== undefined && !s.destroyed) s.close(constants.NGHTTP2_CANCEL);
  }
}
