/**
 * HTTP/2 downstream (RFC 9113) mapped onto the same L7Handler: node:http2 does the framing
 * (nghttp2: preface, flow control, HPACK, GOAWAY on a bad preface or a protocol error); each stream
 * becomes an H2Exchange. Requests' bodies flow from the stream when the upstream attempt asks for
 * them; responses stream back with trailers (gRPC). A proxy-made error on a gRPC request is a
 * trailers-only response carrying `grpc-status`, never an HTML page.
 */
import { constants, createServer, type Http2Server, type Http2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream, type Settings } from 'node:http2';
import type { Duplex } from 'node:stream';
import { BaseExchange, grpcStatusFor } from './exchange.ts';
import { BodyKind, fieldOf, HOP_BY_HOP, ResponseBody, type BodyTarget, type DownstreamPeer, type L7Handler } from './handler.ts';

/**
 * The DownstreamPeer of a connection handed in with one (L7Server.handleConnection), put on its
 * session when the session starts, so each stream reads it from there (node:http2 wraps a Duplex
 * that is no socket, so its session has no remote address of its own).
 */
export const PEER = Symbol('weft.l7.peer');

export type PeerCarrier = { [PEER]?: DownstreamPeer };

const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_CANCEL } = constants;

/** Set on a session whose connection is TLS (read once per session, not per stream). */
const TLS_SESSION = Symbol('weft.l7.tls');
type TlsMark = { [TLS_SESSION]?: boolean };

export interface H2DownstreamOptions {
  settings?: Settings;
  /** A stream with no frame either way for this long is answered 408/504 or reset (0: none). */
  streamIdleTimeoutMs?: number;
  /** Header list limits, as the HTTP/1.1 ones (bytes of the decoded list, number of fields). */
  maxHeaderListSize?: number;
  maxHeaderListPairs?: number;
  /** Idle session timeout, ms (default 60 s). */
  idleTimeoutMs?: number;
}

/** A node:http2 server that never listens: connections are handed to it (`emit('connection')`). */
export function createH2Downstream(handler: L7Handler, scheme: () => 'http' | 'https', o: H2DownstreamOptions = {}): Http2Server {
  const server = createServer({
    settings: { maxConcurrentStreams: 256, initialWindowSize: 1 << 20, enablePush: false, maxHeaderListSize: o.maxHeaderListSize ?? 64 * 1024, ...o.settings },
    maxHeaderListPairs: o.maxHeaderListPairs ?? 128,
    maxSessionMemory: 64,
  });
  server.setTimeout(o.idleTimeoutMs ?? 60_000);
  const maxList = o.maxHeaderListSize ?? 64 * 1024;
  const maxPairs = o.maxHeaderListPairs ?? 128;
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    // the header list limit as RFC 9113 6.5.2 counts it (name + value + 32 per field); nghttp2
    // only advertises SETTINGS_MAX_HEADER_LIST_SIZE, so it is enforced here, as HTTP/1.1's 431
    let size = 0;
    for (let i = 0; i < rawHeaders.length; i += 2) size += rawHeaders[i]!.length + rawHeaders[i + 1]!.length + 32;
    if (size > maxList || rawHeaders.length / 2 > maxPairs) {
      stream.on('error', () => {});
      stream.respond({ ':status': 431 }, { endStream: true });
      return;
    }
    // a TLS connection handed in (L7Server.handleTls: a gateway's listener terminates TLS) is https
    // whatever the server's own scheme, as HTTP/1.1 on it is
    const ex = new H2Exchange(handler, stream, headers, flags, rawHeaders, (stream.session as TlsMark | undefined)?.[TLS_SESSION] ? 'https' : scheme());
    if (o.streamIdleTimeoutMs) stream.setTimeout(o.streamIdleTimeoutMs, () => (ex.committed ? stream.close(NGHTTP2_CANCEL) : ex.idleTimeout()));
    ex.run();
  });
  server.on('session', (session: Http2Session) => {
    session.on('error', () => {});
    if ((session.socket as { encrypted?: boolean } | undefined)?.encrypted === true) (session as TlsMark)[TLS_SESSION] = true;
    // a large connection window keeps bulk streams moving (as the HBONE server does)
    try {
      session.setLocalWindowSize(16 << 20);
    } catch {
      // session already closing
    }
  });
  server.on('sessionError', () => {});
  return server;
}

export class H2Exchange extends BaseExchange {
  #target: BodyTarget | undefined = undefined;
  #bodyStarted = false;
  #bodyPaused = false;
  #ended = false;
  #trailersIn: string[] | undefined = undefined;
  #trailersOut: OutgoingHttpHeaders | undefined = undefined;
  #waitTrailers = false;
  responsePaused = false;

  constructor(
    handler: L7Handler,
    readonly stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    flags: number,
    rawHeaders: string[],
    scheme: 'http' | 'https',
  ) {
    super(handler);
    this.protocol = 'HTTP/2';
    this.method = (headers[':method'] as string) ?? 'GET';
    this.target = (headers[':path'] as string) ?? '/';
    this.authority = (headers[':authority'] as string) ?? (headers.host as string) ?? '';
    this.scheme = scheme;
    const list: string[] = [];
    let cookie = -1;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const n = rawHeaders[i]!;
      if (n.charCodeAt(0) === 0x3a) continue;
      // RFC 9113 8.2.3: split cookie fields are joined with "; " (HTTP/1.1 upstreams expect one line)
      if (n === 'cookie') {
        if (cookie >= 0) {
          list[cookie + 1] = `${list[cookie + 1]}; ${rawHeaders[i + 1]}`;
          continue;
        }
        cookie = list.length;
      }
      list.push(n, rawHeaders[i + 1]!);
    }
    this.headers = list;
    const ct = headers['content-type'];
    this.grpc = typeof ct === 'string' && ct.startsWith('application/grpc');
    const endStream = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0 || stream.readableEnded;
    this.hasBody = !endStream;
    if (this.hasBody) {
      const cl = fieldOf(list, 'content-length');
      const n = cl !== undefined && /^\d{1,15}$/.test(cl) ? Number(cl) : -1;
      this.bodyKind = n >= 0 ? BodyKind.Length : BodyKind.Stream;
      this.bodyLength = n;
      if (n === 0) this.bodyKind = BodyKind.None;
    }
    const session = stream.session as (Http2Session & PeerCarrier) | undefined;
    const peer = session?.[PEER];
    if (peer !== undefined) {
      this.peer = peer;
      this.remoteAddress = peer.address;
      this.remotePort = peer.port;
    } else {
      const sock = session?.socket;
      this.remoteAddress = sock?.remoteAddress ?? '';
      this.remotePort = sock?.remotePort ?? 0;
    }
    stream.on('close', this.#onClose);
    stream.on('error', () => {});
    stream.on('drain', this.#onDrain);
    stream.on('wantTrailers', this.#onWantTrailers);
  }

  get bodyStarted(): boolean {
    return this.#bodyStarted;
  }

  get acceptsChunkedRaw(): boolean {
    return false;
  }

  get requestComplete(): boolean {
    return !this.hasBody || this.stream.readableEnded;
  }

  startBody(target: BodyTarget, _raw: boolean): void {
    if (this.bufferedBody !== undefined) return this.replayBody(target);
    this.#target = target;
    if (!this.hasBody || this.bodyKind === BodyKind.None) {
      target.bodyEnd(undefined);
      return;
    }
    this.#bodyStarted = true;
    const s = this.stream;
    s.on('data', this.#onBodyData);
    s.on('trailers', this.#onTrailers);
    s.on('end', this.#onBodyEnd);
  }

  resumeBody(): void {
    if (this.#bodyPaused) {
      this.#bodyPaused = false;
      this.stream.resume();
    }
  }

  #onBodyData = (buf: Buffer): void => {
    this.requestBytes += buf.length;
    if (!this.#target!.bodyData(buf)) {
      this.#bodyPaused = true;
      this.stream.pause();
    }
  };

  #onTrailers = (headers: IncomingHttpHeaders): void => {
    const list: string[] = [];
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) list.push(k, x);
      else list.push(k, String(v));
    }
    this.#trailersIn = list;
  };

  #onBodyEnd = (): void => {
    this.#target?.bodyEnd(this.#trailersIn);
  };

  #onDrain = (): void => {
    if (this.responsePaused) {
      this.responsePaused = false;
      this.attempt?.resumeResponse();
    }
  };

  #onClose = (): void => {
    if (!this.finished) this.downstreamGone();
  };

  #onWantTrailers = (): void => {
    const t = this.#trailersOut;
    this.#trailersOut = undefined;
    try {
      this.stream.sendTrailers(t ?? {});
    } catch {
      // stream gone
    }
  };

  protected writeHead(status: number, fields: string[], body: ResponseBody, length: number): void {
    const h: OutgoingHttpHeaders = { ':status': status };
    addFields(h, fields);
    const noBody = body === ResponseBody.None;
    if (body === ResponseBody.Length || (noBody && length >= 0)) h['content-length'] = length;
    const s = this.stream;
    if (s.destroyed || s.closed) return;
    // trailers may follow when the upstream streams (gRPC); wait for them only then
    this.#waitTrailers = !noBody && (this.grpc || body === ResponseBody.Stream);
    try {
      s.respond(h, { endStream: noBody, waitForTrailers: this.#waitTrailers });
    } catch {
      s.close(NGHTTP2_INTERNAL_ERROR);
    }
    if (noBody) this.#ended = true;
  }

  protected writeData(buf: Buffer): boolean {
    const s = this.stream;
    if (s.destroyed) return true;
    if (!s.write(buf)) {
      this.responsePaused = true;
      return false;
    }
    return true;
  }

  protected writeTrailers(fields: string[]): void {
    const t: OutgoingHttpHeaders = {};
    addFields(t, fields);
    this.#trailersOut = t;
  }

  protected writeEnd(): void {
    if (this.#ended) return;
    this.#ended = true;
    const s = this.stream;
    if (!s.destroyed) s.end();
  }

  protected writeGrpcError(status: number, message: string, extra: readonly string[] | undefined): void {
    const s = this.stream;
    this.#ended = true;
    if (s.destroyed || s.headersSent) {
      s.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const h: OutgoingHttpHeaders = { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(grpcStatusFor(status)), 'grpc-message': encodeURIComponent(message) };
    if (extra) addFields(h, extra as string[]);
    s.respond(h, { endStream: true });
  }

  protected resetDownstream(): void {
    const s = this.stream;
    if (!s.destroyed) s.close(NGHTTP2_INTERNAL_ERROR);
  }

  protected onFinished(): void {
    // an unread request body is cancelled, so the client stops sending it
    if (this.hasBody && !this.#bodyStarted && !this.stream.destroyed && this.stream.readable && this.#ended) {
      this.stream.close(constants.NGHTTP2_NO_ERROR);
    }
    if (this.failure === 'downstream-reset' && !this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
  }

  cork(): void {}

  uncork(): void {}

  upgraded(_fields: string[], socket: Duplex, _rest: Buffer | undefined): void {
    // upgrades are HTTP/1.1 only; an HTTP/2 request never asks for one
    socket.destroy();
    this.resetDownstream();
  }
}

/** Copies a flat field list into an HTTP/2 header object (connection-specific fields dropped). */
export function addFields(h: OutgoingHttpHeaders, fields: readonly string[]): void {
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i]!;
    if (HOP_BY_HOP.has(n)) continue;
    const v = fields[i + 1]!;
    const prev = h[n];
    if (prev === undefined) h[n] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else h[n] = [String(prev), v];
  }
}
