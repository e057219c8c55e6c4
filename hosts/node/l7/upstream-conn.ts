/**
 * One pooled HTTP/1.1 upstream connection (upstream-pool.ts), which is also the attempt of the
 * request it carries: the head written in one write (corked with the first body bytes when there
 * is a body), the body streamed (raw chunked passed through, or encoded here), the response head
 * parsed strictly and the body streamed back with backpressure, the safe transparent retry, and
 * the outcome reported when the exchange ends.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ChunkedDecoder, type ChunkSink } from './chunked.ts';
import { BodyKind, HOP_BY_HOP, ResponseBody, WRITE_LIMIT, type Attempt, type BodyTarget, type ProxiedRequest, type UpstreamFailure, type UpstreamOutcome } from './handler.ts';
import { Framing, HeadError, HeadReader, hasToken, parseHead, type Http1Head } from './http1-parser.ts';
import type { Http1Endpoint } from './upstream-pool.ts';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** A discarded response up to this long is read to its end so its connection can be reused. */
const DRAIN_LIMIT = 64 * 1024;

export function outcome(status: number, failure: UpstreamFailure, committed: boolean, req: ProxiedRequest, reused: boolean, requestBytes: number, responseBytes: number, message: string): UpstreamOutcome {
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
    if (this.#reqBodyDone) {
      sock.write(`${s}\r\n`, 'latin1');
    } else {
      // the head and the body bytes already read go out in one writev
      sock.cork();
      sock.write(`${s}\r\n`, 'latin1');
      req.startBody(this, true);
      sock.uncork();
    }
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
      // the handler took the exchange back (a retry): this response is not wanted. A short one is
      // read to its end and the connection kept (retries on 503 are common); others cost the connection.
      this.#discard = true;
      this.#clearTimer();
      const drainable = this.#reqBodyDone && (kind === ResponseBody.None || (kind === ResponseBody.Length && length <= DRAIN_LIMIT) || head.framing === Framing.Chunked);
      if (!drainable) {
        this.req = undefined;
        this.socket.destroy();
        return false;
      }
      this.#rawOut = false;
    }
    if (kind === ResponseBody.None) this.#done();
    return true;
  }

  #bodyChunk(req: ProxiedRequest, buf: Buffer): void {
    this.#responseBytes += buf.length;
    if (this.#discard) {
      if (this.#responseBytes > DRAIN_LIMIT) this.#fail('overflow', 'discarded response too long');
      return;
    }
    if (!req.responseData(buf)) this.#pause();
  }

  onChunkData(buf: Buffer, start: number, end: number): void {
    this.#bodyChunk(this.req!, buf.subarray(start, end));
  }

  onTrailers(fields: string[]): void {
    if (!this.#discard) this.req?.responseTrailers(fields);
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
    // a discarded (held, then retried) response belongs to no exchange any more
    if (!this.#discard) req.attemptEnded(o);
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
    if (req === undefined || this.#discard) return;
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

/**
 * Response fields to pass on: hop-by-hop and framing fields dropped (the engine re-frames). The
 * parsed list is ours alone, so it is compacted in place (no second array per response).
 */
function responseFields(head: Http1Head): string[] {
  const h = head.headers;
  const conn = head.connection;
  const checkConn = conn !== '' && conn !== 'keep-alive' && conn !== 'close';
  let w = 0;
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i]!;
    if (HOP_BY_HOP.has(n)) continue;
    if (checkConn && hasToken(conn, n)) continue;
    if (w !== i) {
      h[w] = n;
      h[w + 1] = h[i + 1]!;
    }
    w += 2;
  }
  h.length = w;
  return h;
}
