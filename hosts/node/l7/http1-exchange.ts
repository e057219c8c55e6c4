/**
 * One HTTP/1.x request on a downstream connection (http1-server.ts): its body read from the
 * connection's bytes (Content-Length or chunked, validated as it streams, raw coded bytes passed
 * through when the upstream is HTTP/1.1 too) and its response framed back: Content-Length,
 * chunked (raw or encoded here), or until close for HTTP/1.0. The response head waits for the
 * first body bytes of the same upstream read so both leave in one write of one Buffer.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ChunkedDecoder, type ChunkSink } from './chunked.ts';
import { BaseExchange, grpcStatusFor, reasonPhrase } from './exchange.ts';
import { BodyKind, ResponseBody, WRITE_LIMIT, type BodyTarget } from './handler.ts';
import { Framing, type Http1Head } from './http1-parser.ts';
import type { Http1Connection } from './http1-server.ts';

/** Body bytes copied into one Buffer with the response head (larger ones go in their own write). */
const COALESCE_LIMIT = 16 * 1024;

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
  #pendingHead: string | undefined = undefined;
  #batching = false;
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
    this.peer = conn.peer;
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

  get requestComplete(): boolean {
    return this.bodyDone;
  }

  get acceptsChunkedRaw(): boolean {
    return this.minor === 1;
  }

  // ---- request body
  startBody(target: BodyTarget, raw: boolean): void {
    if (this.bufferedBody !== undefined) return this.replayBody(target);
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
    s += '\r\n';
    this.conn.counts.sent += s.length;
    // held until the first body bytes of this batch (one upstream read), so head and body leave in
    // one write of one Buffer: no writev, no cork bookkeeping in the Writable
    this.#pendingHead = s;
    if (!this.#batching) this.#flushHead();
  }

  #flushHead(): void {
    const h = this.#pendingHead;
    if (h !== undefined) {
      this.#pendingHead = undefined;
      this.conn.socket.write(h, 'latin1');
    }
  }

  protected writeData(buf: Buffer): boolean {
    const sock = this.conn.socket;
    this.conn.counts.sent += buf.length;
    this.conn.active = this.conn.host.now;
    const h = this.#pendingHead;
    if (this.#chunkOut) {
      if (buf.length === 0) return true;
      sock.cork();
      this.#flushHead();
      sock.write(`${buf.length.toString(16)}\r\n`, 'latin1');
      sock.write(buf);
      sock.write('\r\n', 'latin1');
      sock.uncork();
    } else if (h !== undefined && buf.length <= COALESCE_LIMIT) {
      this.#pendingHead = undefined;
      const out = Buffer.allocUnsafe(h.length + buf.length);
      out.write(h, 0, 'latin1');
      buf.copy(out, h.length);
      sock.write(out);
    } else {
      this.#flushHead();
      sock.write(buf);
    }
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
    this.#flushHead();
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
    this.#batching = true;
  }

  uncork(): void {
    this.#batching = false;
    this.#flushHead();
  }

  upgraded(fields: string[], socket: Duplex, rest: Buffer | undefined): void {
    this.#flushHead();
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
