/**
 * What HTTP/1.1 and HTTP/2 downstream exchanges share: the request view the handler reads, the
 * one-answer rule (respond or forward; again only after an uncommitted failure), head mutation,
 * attempt outcomes, the error answer (HTML-free: a short text, or a gRPC trailers-only response)
 * and the handler's error boundary. Subclasses frame bytes for their protocol.
 */
import type { Duplex } from 'node:stream';
import {
  BodyKind,
  fieldOf,
  HOP_BY_HOP,
  ResponseBody,
  type Attempt,
  type BodyTarget,
  type DownstreamPeer,
  type ExchangeSummary,
  type ForwardOptions,
  type HeadMutation,
  type L7Exchange,
  type L7Handler,
  type ProxiedRequest,
  type RequestHeadView,
  type Upstream,
  type UpstreamFailure,
  type UpstreamOutcome,
} from './handler.ts';
import { hasToken } from './http1-parser.ts';

export abstract class BaseExchange implements L7Exchange, RequestHeadView, ProxiedRequest {
  // ---- the request as received
  method = '';
  target = '';
  authority = '';
  scheme: 'http' | 'https' = 'http';
  protocol: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2' = 'HTTP/1.1';
  headers: string[] = [];
  hasBody = false;
  grpc = false;
  upgrade = '';
  remoteAddress = '';
  remotePort = 0;
  /** What the host said about the connection's peer (handleConnection's `remote`), if anything. */
  peer: DownstreamPeer | undefined = undefined;
  /** The Connection header's value (its tokens are hop-by-hop too). */
  connectionTokens = '';
  state: unknown = undefined;

  // ---- the request as forwarded
  fields: string[] = [];
  bodyKind: BodyKind = BodyKind.None;
  bodyLength = 0;
  chunkedSource = false;
  timeoutMs = 0;
  options: ForwardOptions | undefined = undefined;

  // ---- progress
  answered = false;
  committed = false;
  finished = false;
  attempts = 0;
  attempt: Attempt | undefined = undefined;
  status = 0;
  requestBytes = 0;
  responseBytes = 0;
  failure: UpstreamFailure = 'none';

  constructor(readonly handler: L7Handler) {}

  get request(): RequestHeadView {
    return this;
  }

  get peerPrincipal(): string | undefined {
    return this.peer?.peerPrincipal;
  }

  get localAddress(): string | undefined {
    return this.peer?.localAddress;
  }

  header(name: string): string | undefined {
    return fieldOf(this.headers, name);
  }

  // ---- subclass duties
  abstract get bodyStarted(): boolean;
  abstract startBody(target: BodyTarget, raw: boolean): void;
  abstract resumeBody(): void;
  /** Writes the response head; `length` per `body` (see ResponseBody). */
  protected abstract writeHead(status: number, fields: string[], body: ResponseBody, length: number): void;
  protected abstract writeData(buf: Buffer): boolean;
  protected abstract writeTrailers(fields: string[]): void;
  protected abstract writeEnd(): void;
  /** Tears the downstream down after a failure mid-response (RST / stream reset). */
  protected abstract resetDownstream(): void;
  /** A gRPC error as trailers-only. */
  protected abstract writeGrpcError(status: number, message: string, extra: readonly string[] | undefined): void;
  protected abstract onFinished(): void;
  abstract cork(): void;
  abstract uncork(): void;
  abstract upgraded(fields: string[], socket: Duplex, rest: Buffer | undefined): void;
  /** Whether raw HTTP/1.1 chunked bytes can be written to this client as they are. */
  abstract get acceptsChunkedRaw(): boolean;

  // ---- the handler's side
  run(): void {
    let r: void | Promise<void>;
    try {
      r = this.handler.request(this);
    } catch (err) {
      this.#handlerFailed(err);
      return;
    }
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
      (r as Promise<void>).then(
        () => {
          if (!this.answered && !this.finished) this.#handlerFailed(new Error('the handler settled without answering'));
        },
        (err: unknown) => this.#handlerFailed(err),
      );
    }
  }

  #handlerFailed(err: unknown): void {
    if (this.finished) return;
    if (this.committed) {
      this.resetDownstream();
      this.finish('protocol-error');
      return;
    }
    this.answered = false;
    this.respond(500, undefined, `handler error: ${err instanceof Error ? err.message : String(err)}\n`);
  }

  respond(status: number, headers?: readonly string[], body?: string | Buffer): void {
    if (this.answered || this.finished) {
      if (this.finished) return;
      throw new Error('exchange already answered');
    }
    this.answered = true;
    this.status = status;
    this.committed = true;
    if (this.grpc && status !== 200) {
      this.writeGrpcError(status, typeof body === 'string' ? body.trim() : '', headers);
      this.finish(this.failure);
      return;
    }
    const fields = headers ? headers.slice() : [];
    let data: Buffer | undefined;
    if (body !== undefined) {
      data = typeof body === 'string' ? Buffer.from(body) : body;
      if (fieldOf(fields, 'content-type') === undefined) fields.push('content-type', 'text/plain; charset=utf-8');
    }
    const noBody = this.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    this.cork();
    const withBody = data !== undefined && data.length > 0 && !noBody;
    this.writeHead(status, fields, withBody ? ResponseBody.Length : ResponseBody.None, data !== undefined ? data.length : noBody ? -1 : 0);
    if (withBody && data !== undefined) {
      this.responseBytes += data.length;
      this.writeData(data);
    }
    this.writeEnd();
    this.uncork();
    this.finish(this.failure);
  }

  forward(upstream: Upstream, options?: ForwardOptions): void {
    if (this.answered || this.finished) {
      if (this.finished) return;
      throw new Error('exchange already answered');
    }
    this.answered = true;
    this.options = options;
    this.attempts++;
    this.buildFields(options);
    this.timeoutMs = options?.timeoutMs ?? 0;
    upstream.start(this);
  }

  /** The forwarded fields: the received ones minus hop-by-hop, then the mutation. */
  protected buildFields(m: HeadMutation | undefined): void {
    const src = this.headers;
    const conn = this.connectionTokens;
    const out: string[] = [];
    for (let i = 0; i < src.length; i += 2) {
      const name = src[i]!;
      if (HOP_BY_HOP.has(name)) continue;
      if (conn !== '' && hasToken(conn, name)) continue;
      out.push(name, src[i + 1]!);
    }
    this.fields = out;
    if (m !== undefined) {
      if (m.method !== undefined) this.method = m.method;
      if (m.target !== undefined) this.target = m.target;
      if (m.authority !== undefined) this.authority = m.authority;
      applyMutation(out, m);
    }
  }

  /** The body as `readBody` read it: what every attempt sends (replayBody). */
  bufferedBody: Buffer | undefined = undefined;

  readBody(limit: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const parts: Buffer[] = [];
      let n = 0;
      let over = false;
      this.startBody(
        {
          bodyData: (b) => {
            if (over) return true; // read to its end and dropped: the 413 keeps the connection usable
            n += b.length;
            if (n > limit) {
              over = true;
              resolve(undefined);
            } else parts.push(b);
            return true;
          },
          bodyEnd: () => {
            if (over) return;
            const buf = Buffer.concat(parts, n);
            this.bufferedBody = buf;
            this.bodyKind = buf.length ? BodyKind.Length : BodyKind.None;
            this.bodyLength = buf.length;
            this.chunkedSource = false;
            resolve(buf);
          },
        },
        false,
      );
    });
  }

  /** An attempt's body when `readBody` read it (subclasses' startBody defer to it). */
  protected replayBody(target: BodyTarget): void {
    const b = this.bufferedBody!;
    if (b.length) target.bodyData(b);
    target.bodyEnd(undefined);
  }

  attach(attempt: Attempt): void {
    this.attempt = attempt;
  }

  // ---- the upstream attempt's side
  responseHead(status: number, fields: string[], body: ResponseBody, length: number): boolean {
    if (this.finished) return false;
    const o = this.options;
    if (o?.holdStatus !== undefined && this.handler.upstreamOutcome !== undefined && o.holdStatus(status)) {
      const held: UpstreamOutcome = { status, failure: 'none', committed: false, replayable: !this.bodyStarted || this.bodyKind === BodyKind.None, reused: false, requestBytes: this.requestBytes, responseBytes: 0, message: `held status ${status}` };
      this.answered = false;
      const prev = this.attempt;
      if (this.handler.upstreamOutcome(this, held) === true && this.answered) {
        if (this.attempt === prev) this.attempt = undefined;
        return false;
      }
      this.answered = true;
    }
    if (o?.response !== undefined) applyMutation(fields, o.response);
    const hook = o?.responseHead;
    if (hook !== undefined) {
      const instead = hook.onResponseHead(status, fields);
      if (instead !== undefined) {
        // the attempt drops this response (as for a retry) and the exchange answers with the hook's
        this.attempt = undefined;
        this.answered = false;
        this.respond(instead.status, instead.headers, instead.body);
        return false;
      }
    }
    this.status = status;
    this.committed = true;
    this.writeHead(status, fields, body, length);
    return true;
  }

  responseData(buf: Buffer): boolean {
    this.responseBytes += buf.length;
    return this.writeData(buf);
  }

  responseTrailers(fields: string[]): void {
    this.writeTrailers(fields);
  }

  /** One attempt ended: complete (failure 'none', the response fully written) or failed. */
  attemptEnded(outcome: UpstreamOutcome): void {
    this.attempt = undefined;
    if (this.finished) return;
    if (outcome.failure === 'none') {
      this.writeEnd();
      this.handler.upstreamOutcome?.(this, outcome);
      this.finish('none');
      return;
    }
    this.failure = outcome.failure;
    if (this.committed) {
      this.handler.upstreamOutcome?.(this, outcome);
      this.resetDownstream();
      this.finish(outcome.failure);
      return;
    }
    this.answered = false;
    if (this.handler.upstreamOutcome?.(this, outcome) === true && this.answered) return;
    if (this.answered || this.finished) return;
    const status = outcome.failure === 'timeout' ? 504 : outcome.failure === 'protocol-error' ? 502 : 503;
    this.respond(status, undefined, `upstream ${outcome.failure}: ${outcome.message}\n`);
  }

  /** Nothing moved for the stream idle timeout before an answer started: stop the attempt, 408 or 504. */
  idleTimeout(): void {
    if (this.finished || this.committed) return;
    const a = this.attempt;
    this.attempt = undefined;
    if (a !== undefined) a.abort();
    this.answered = false;
    this.failure = 'timeout';
    // no request byte pending from the client: the upstream is the one that stalled (504)
    this.respond(a !== undefined && this.requestComplete ? 504 : 408, undefined, 'stream idle timeout\n');
  }

  /** Whether the whole request (head and body) was received. */
  abstract get requestComplete(): boolean;

  /** The client went away: stop the attempt, report, release. */
  downstreamGone(): void {
    if (this.finished) return;
    const a = this.attempt;
    this.attempt = undefined;
    if (a !== undefined) a.abort();
    this.finish('downstream-reset');
  }

  protected finish(failure: UpstreamFailure): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = failure;
    if (this.handler.end !== undefined) {
      const s: ExchangeSummary = { status: this.status, requestBytes: this.requestBytes, responseBytes: this.responseBytes, failure, attempts: this.attempts };
      try {
        this.handler.end(this, s);
      } catch {
        // a reporting hook must not break the connection
      }
    }
    this.onFinished();
  }
}

/** Applies set/add/remove to a flat field list in place. */
export function applyMutation(fields: string[], m: Pick<HeadMutation, 'set' | 'add' | 'remove'>): void {
  if (m.remove !== undefined) for (const name of m.remove) removeField(fields, name);
  if (m.set !== undefined) {
    for (let i = 0; i < m.set.length; i += 2) {
      removeField(fields, m.set[i]!);
      fields.push(m.set[i]!, m.set[i + 1]!);
    }
  }
  if (m.add !== undefined) for (let i = 0; i < m.add.length; i++) fields.push(m.add[i]!);
}

function removeField(fields: string[], name: string): void {
  let w = 0;
  for (let r = 0; r < fields.length; r += 2) {
    if (fields[r] === name) continue;
    fields[w++] = fields[r]!;
    fields[w++] = fields[r + 1]!;
  }
  fields.length = w;
}

/** gRPC status for a proxy's HTTP status (grpc/doc/http-grpc-status-mapping.md). */
export function grpcStatusFor(status: number): number {
  switch (status) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  411: 'Length Required', 413: 'Content Too Large', 414: 'URI Too Long', 417: 'Expectation Failed', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Unknown';
}
