/**
 * The HTTP/1.1 downstream connection loop on a raw socket (any Duplex: a TCP socket, a TLS socket,
 * an HBONE stream): keep-alive, pipelining (one request at a time, responses strictly in order;
 * bytes of later requests wait, bounded), request bodies streamed to the upstream attempt as they
 * arrive (Content-Length or chunked, validated while streaming), `Expect: 100-continue` answered
 * when the body is first wanted, HTTP/1.0, `Connection: close`, upgrades spliced after a 101.
 * Header and idle timeouts are enforced by the owning L7Server's sweep (one timer per server).
 *
 * RFC 9112. A refused head gets its status (400/414/431/501/505) and `Connection: close`; a request
 * whose body was not read to its end closes the connection after its response (its unread bytes
 * must never be taken for a next request).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ByteCounts } from '../../../core/telemetry/tcp-metrics.ts';
import { splice, type SpliceEnd, type SpliceOwner } from '../servers/splice.ts';
import { ChunkedDecoder, type ChunkSink } from './chunked.ts';
import { BaseExchange, reasonPhrase, grpcStatusFor } from './exchange.ts';
import { BodyKind, ResponseBody, type BodyTarget, type L7Handler } from './handler.ts';
import { Framing, HeadError, HeadReader, parseHead, type HeadLimits, type Http1Head } from './http1-parser.ts';

/** Bytes a writer may hold before its source is paused (as splice.ts). */
export const WRITE_LIMIT = 256 * 1024;
/** Bytes of pipelined requests held behind the one in progress before reading pauses. */
const PIPELINE_LIMIT = 64 * 1024;

/** What a connection needs from its server. */
export interface Http1Host {
  readonly handler: L7Handler;
  readonly limits: HeadLimits;
  /** Coarse clock (ms), advanced by the server's sweep. */
  readonly now: number;
  readonly draining: boolean;
  connectionClosed(conn: Http1Connection): void;
}

export const enum Phase {
  /** Waiting for the first byte of a request (idle timeout applies). */
  Idle,
  /** Part of a head received (header timeout applies). */
  Head,
  /** A request in progress. */
  Busy,
  Upgraded,
  Closed,
}

export class Http1Connection implements SpliceOwner {
  phase = Phase.Idle;
  /** When the current phase began (coarse clock). */
  since: number;
  current: Http1Exchange | undefined = undefined;
  readonly reader: HeadReader;
  #queued: Buffer | undefined = undefined;
  #processing = false;
  #closing = false;
  #clientEnded = false;
  paused = false;
  readonly counts: ByteCounts = { received: 0, sent: 0 };

  constructor(
    readonly host: Http1Host,
    readonly socket: Duplex,
    readonly scheme: 'http' | 'https',
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    this.reader = new HeadReader(true, host.limits);
    this.since = host.now;
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
  }

  /** Starts reading, with bytes already taken from the socket (protocol sniffing) first. */
  start(first: Buffer | undefined): void {
    if (first !== undefined && first.length > 0) this.process(first, 0);
  }

  #onData = (chunk: Buffer): void => {
    this.counts.received += chunk.length;
    this.process(chunk, 0);
  };

  #onDrain = (): void => {
    const ex = this.current;
    if (ex !== undefined && ex.responsePaused) {
      ex.responsePaused = false;
      ex.attempt?.resumeResponse();
    }
  };

  #onEnd = (): void => {
    this.#clientEnded = true;
    if (this.current === undefined && this.phase !== Phase.Upgraded) this.socket.end();
  };

  #onError = (): void => {
    // 'close' follows
  };

  #onClose = (): void => {
    if (this.phase === Phase.Upgraded) return;
    this.phase = Phase.Closed;
    const ex = this.current;
    this.current = undefined;
    if (ex !== undefined) ex.downstreamGone();
    this.host.connectionClosed(this);
  };

  pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  resume(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Parses and dispatches what `buf[off..]` holds; re-entered for held and queued bytes. */
  process(buf: Buffer, off: number): void {
    if (this.#processing) {
      // bytes handed back while the loop runs (a held body released synchronously): queue them
      this.#queue(buf, off);
      return;
    }
    this.#processing = true;
    try {
      while (off < buf.length) {
        const ex = this.current;
        if (ex !== undefined) {
          if (!ex.bodyDone) {
            off = ex.feedBody(buf, off);
            if (off < 0) return;
            continue;
          }
          this.#queue(buf, off);
          return;
        }
        if (this.#closing || this.phase === Phase.Closed || this.phase === Phase.Upgraded) return;
        const end = this.reader.push(buf, off);
        if (end < 0) {
          if (this.phase !== Phase.Head) {
            this.phase = Phase.Head;
            this.since = this.host.now;
          }
          return;
        }
        const hb = this.reader.buffer();
        const head = parseHead(hb, this.reader.start, end, true, this.host.limits);
        buf = hb;
        off = end;
        this.#startExchange(head);
      }
    } catch (err) {
      if (err instanceof HeadError) this.refuse(err.status, err.message);
      else {
        // an engine bug must cost this connection, never the process
        this.refuse(500, 'internal error');
        process.emitWarning(`weft l7: ${(err as Error).stack ?? err}`);
      }
    } finally {
      this.#processing = false;
    }
    this.#drainQueue();
    this.#endIfClientDone();
  }

  #queue(buf: Buffer, off: number): void {
    const rest = off === 0 ? buf : buf.subarray(off);
    this.#queued = this.#queued === undefined ? rest : Buffer.concat([this.#queued, rest]);
    if (this.#queued.length > PIPELINE_LIMIT) this.pause();
  }

  /** Runs queued (pipelined or handed-back) bytes once no request holds the loop. */
  #drainQueue(): void {
    while (this.#queued !== undefined && !this.#processing && this.phase !== Phase.Closed && this.phase !== Phase.Upgraded) {
      const ex = this.current;
      if (ex !== undefined && (ex.bodyDone || ex.bodyHeld)) return;
      const q = this.#queued;
      this.#queued = undefined;
      this.process(q, 0);
    }
  }

  #startExchange(head: Http1Head): void {
    const ex = new Http1Exchange(this, head);
    this.current = ex;
    this.phase = Phase.Busy;
    this.since = this.host.now;
    ex.run();
  }

  /** The exchange finished (response written or the client gone). */
  exchangeDone(ex: Http1Exchange): void {
    if (this.current !== ex) return;
    this.current = undefined;
    if (this.phase === Phase.Upgraded || this.phase === Phase.Closed) return;
    if (!ex.bodyDone || ex.closeAfter || this.host.draining) {
      this.#closing = true;
      this.phase = Phase.Closed;
      this.socket.end();
      return;
    }
    this.phase = Phase.Idle;
    this.since = this.host.now;
    this.resume();
    if (!this.#processing) this.#drainQueue();
    this.#endIfClientDone();
  }

  /** A client that half-closed gets the answers to everything it sent, then our FIN. */
  #endIfClientDone(): void {
    if (this.#clientEnded && this.current === undefined && this.#queued === undefined && !this.#processing && (this.phase === Phase.Idle || this.phase === Phase.Head)) {
      this.#closing = true;
      this.phase = Phase.Closed;
      this.socket.end();
    }
  }

  /** Answers a refused head (or a timeout) and closes. */
  refuse(status: number, message: string): void {
    if (this.#closing || this.socket.destroyed) return;
    this.#closing = true;
    const ex = this.current;
    this.current = undefined;
    if (ex !== undefined) {
      // a body framing error mid-request: if nothing was answered yet, answer; else cut
      if (ex.committed) {
        ex.downstreamGone();
        (this.socket as Socket).resetAndDestroy?.() ?? this.socket.destroy();
        return;
      }
      ex.downstreamGone();
    }
    const body = `${message}\n`;
    this.socket.end(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, 'latin1');
    this.phase = Phase.Closed;
  }

  /** Sweep: header timeout (408) and idle timeout (close). */
  checkTimeouts(now: number, headerTimeoutMs: number, idleTimeoutMs: number): void {
    if (this.phase === Phase.Head && now - this.since > headerTimeoutMs) this.refuse(408, 'request header timeout');
    else if (this.phase === Phase.Idle && now - this.since > idleTimeoutMs) {
      this.phase = Phase.Closed;
      this.socket.destroy();
    }
  }

  /** Graceful stop: idle connections close now, busy ones after their response. */
  drain(): void {
    if (this.phase === Phase.Idle || this.phase === Phase.Head) {
      this.phase = Phase.Closed;
      this.socket.end();
    }
  }

  /** Hands the socket over to a splice with the upstream (after a 101). */
  upgrade(upstream: Duplex, upstreamRest: Buffer | undefined): void {
    this.phase = Phase.Upgraded;
    const s = this.socket;
    s.off('data', this.#onData);
    s.off('drain', this.#onDrain);
    s.off('end', this.#onEnd);
    s.off('error', this.#onError);
    s.off('close', this.#onClose);
    if (upstreamRest !== undefined && upstreamRest.length > 0) s.write(upstreamRest);
    const q = this.#queued;
    this.#queued = undefined;
    if (q !== undefined) upstream.write(q);
    this.paused = false;
    splice(s, upstream, this.counts, this);
  }

  onSpliceEnd(_end: SpliceEnd): void {
    this.phase = Phase.Closed;
    this.host.connectionClosed(this);
  }
}

/** One HTTP/1.x request on a connection. */
export class Http1Exchange extends BaseExchange implements ChunkSink {
  readonly minor: number;
  bodyDone: boolean;
  /** Body bytes wait for a target (the handler has not forwarded yet). */
  bodyHeld = false;
  #bodyRemaining: number;
  #decoder: ChunkedDecoder | undefined = undefined;
  #target: BodyTarget | undefined = undefined;
  #raw = false;
  #bodyStarted = false;
  #bodyPaused = false;
  #held: Buffer | undefined = undefined;
  #continueSent = false;
  #chunkOut = false;
  #trailers: string[] | undefined = undefined;
  responsePaused = false;
  closeAfter: boolean;
  readonly expectContinue: boolean;

  constructor(
    readonly conn: Http1Connection,
    readonly head: Http1Head,
  ) {
    super(conn.host.handler);
    this.method = head.method;
    this.target = head.target;
    this.authority = head.host;
    this.scheme = conn.scheme;
    this.minor = head.minor;
    this.protocol = head.minor === 1 ? 'HTTP/1.1' : 'HTTP/1.0';
    this.headers = head.headers;
    this.connectionTokens = head.connection;
    this.remoteAddress = conn.remoteAddress;
    this.remotePort = conn.remotePort;
    this.upgrade = head.upgrade;
    this.closeAfter = head.close;
    this.expectContinue = head.expectContinue;
    const ct = this.header('content-type');
    this.grpc = ct !== undefined && ct.startsWith('application/grpc');
    if (head.framing === Framing.Length) {
      this.hasBody = true;
      this.bodyKind = BodyKind.Length;
      this.bodyLength = head.contentLength;
      this.#bodyRemaining = head.contentLength;
      this.bodyDone = false;
    } else if (head.framing === Framing.Chunked) {
      this.hasBody = true;
      this.bodyKind = BodyKind.Stream;
      this.bodyLength = -1;
      this.chunkedSource = true;
      this.#bodyRemaining = -1;
      this.bodyDone = false;
    } else {
      this.#bodyRemaining = 0;
      this.bodyDone = true;
    }
  }

  get bodyStarted(): boolean {
    return this.#bodyStarted;
  }

  get acceptsChunkedRaw(): boolean {
    return this.minor === 1;
  }

  // ---- request body
  startBody(target: BodyTarget, raw: boolean): void {
    this.#target = target;
    this.#raw = raw && this.chunkedSource;
    if (this.bodyDone) {
      target.bodyEnd(undefined);
      return;
    }
    this.#bodyStarted = true;
    if (this.chunkedSource) this.#decoder = new ChunkedDecoder(this.#raw ? undefined : this, 400);
    if (this.expectContinue && !this.#continueSent) {
      this.#continueSent = true;
      this.conn.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
    }
    const held = this.#held;
    if (held !== undefined) {
      this.#held = undefined;
      this.bodyHeld = false;
      this.conn.resume();
      this.conn.process(held, 0);
    } else this.conn.resume();
  }

  resumeBody(): void {
    if (this.#bodyPaused) {
      this.#bodyPaused = false;
      this.conn.resume();
    }
  }

  /** Body bytes from `buf[off..]`; returns the index past the body's end, or -1 (all taken). */
  feedBody(buf: Buffer, off: number): number {
    const t = this.#target;
    if (t === undefined || this.#held !== undefined) {
      const rest = off === 0 ? buf : buf.subarray(off);
      this.#held = this.#held === undefined ? rest : Buffer.concat([this.#held, rest]);
      this.bodyHeld = true;
      this.conn.pause();
      return -1;
    }
    if (this.#decoder === undefined) {
      const n = Math.min(this.#bodyRemaining, buf.length - off);
      const slice = off === 0 && n === buf.length ? buf : buf.subarray(off, off + n);
      this.#bodyRemaining -= n;
      this.requestBytes += n;
      if (this.#bodyRemaining === 0) this.bodyDone = true;
      if (!t.bodyData(slice)) this.#pauseBody();
      if (this.bodyDone) {
        t.bodyEnd(undefined);
        return off + n;
      }
      return -1;
    }
    const d = this.#decoder;
    const end = d.feed(buf, off, buf.length);
    if (this.#raw) {
      const e = end < 0 ? buf.length : end;
      this.requestBytes += e - off;
      if (!t.bodyData(off === 0 && e === buf.length ? buf : buf.subarray(off, e))) this.#pauseBody();
    }
    if (end >= 0) {
      this.bodyDone = true;
      t.bodyEnd(this.#trailers);
      return end;
    }
    return -1;
  }

  #pauseBody(): void {
    this.#bodyPaused = true;
    this.conn.pause();
  }

  onChunkData(buf: Buffer, start: number, end: number): void {
    this.requestBytes += end - start;
    if (!this.#target!.bodyData(buf.subarray(start, end))) this.#pauseBody();
  }

  onTrailers(fields: string[]): void {
    this.#trailers = fields;
  }

  // ---- response
  protected writeHead(status: number, fields: string[], body: ResponseBody, length: number): void {
    let s = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
    for (let i = 0; i < fields.length; i += 2) s += `${fields[i]}: ${fields[i + 1]}\r\n`;
    switch (body) {
      case ResponseBody.None:
        if (length >= 0) s += `content-length: ${length}\r\n`;
        else if (status >= 200 && status !== 204 && status !== 304 && this.head.method !== 'HEAD') s += 'content-length: 0\r\n';
        break;
      case ResponseBody.Length:
        s += `content-length: ${length}\r\n`;
        break;
      case ResponseBody.ChunkedRaw:
        s += 'transfer-encoding: chunked\r\n';
        break;
      case ResponseBody.Stream:
        if (this.minor === 1) {
          s += 'transfer-encoding: chunked\r\n';
          this.#chunkOut = true;
        } else this.closeAfter = true;
        break;
    }
    // a body the handler never read makes the connection unusable for a next request
    if (!this.bodyDone && this.#target === undefined) this.closeAfter = true;
    if (this.closeAfter || this.conn.host.draining) s += 'connection: close\r\n';
    else if (this.minor === 0) s += 'connection: keep-alive\r\n';
    this.conn.counts.sent += s.length;
    this.conn.socket.write(`${s}\r\n`, 'latin1');
  }

  protected writeData(buf: Buffer): boolean {
    const sock = this.conn.socket;
    this.conn.counts.sent += buf.length;
    if (this.#chunkOut) {
      if (buf.length === 0) return true;
      sock.write(`${buf.length.toString(16)}\r\n`, 'latin1');
      sock.write(buf);
      sock.write('\r\n', 'latin1');
    } else sock.write(buf);
    if (sock.writableLength > WRITE_LIMIT) {
      this.responsePaused = true;
      return false;
    }
    return true;
  }

  protected writeTrailers(fields: string[]): void {
    this.#trailers = fields;
  }

  protected writeEnd(): void {
    if (!this.#chunkOut) return;
    let s = '0\r\n';
    const t = this.#trailers;
    if (t !== undefined) for (let i = 0; i < t.length; i += 2) s += `${t[i]}: ${t[i + 1]}\r\n`;
    this.conn.socket.write(`${s}\r\n`, 'latin1');
  }

  protected writeGrpcError(status: number, message: string, extra: readonly string[] | undefined): void {
    let s = `HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ngrpc-status: ${grpcStatusFor(status)}\r\ngrpc-message: ${encodeURIComponent(message)}\r\n`;
    if (extra) for (let i = 0; i < extra.length; i += 2) s += `${extra[i]}: ${extra[i + 1]}\r\n`;
    if (!this.bodyDone) this.closeAfter = true;
    this.conn.socket.write(`${s}content-length: 0\r\n${this.closeAfter ? 'connection: close\r\n' : ''}\r\n`, 'latin1');
  }

  protected resetDownstream(): void {
    const s = this.conn.socket as Socket;
    if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
    else s.destroy();
  }

  protected onFinished(): void {
    this.conn.exchangeDone(this);
  }

  cork(): void {
    this.conn.socket.cork();
  }

  uncork(): void {
    this.conn.socket.uncork();
  }

  upgraded(fields: string[], socket: Duplex, rest: Buffer | undefined): void {
    let s = 'HTTP/1.1 101 Switching Protocols\r\n';
    for (let i = 0; i < fields.length; i += 2) s += `${fields[i]}: ${fields[i + 1]}\r\n`;
    this.conn.socket.write(`${s}connection: upgrade\r\n\r\n`, 'latin1');
    this.status = 101;
    this.committed = true;
    this.attempt = undefined;
    this.conn.upgrade(socket, rest);
    this.finish('none');
  }
}
