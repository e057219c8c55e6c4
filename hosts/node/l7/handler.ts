/**
 * The seam between the L7 engine (HTTP/1.1 and HTTP/2 downstream, HTTP/1.1 and HTTP/2 upstream
 * pools) and what decides about each request (routing, policy, plugins: core/route behind the
 * gateway and waypoint). The engine parses and frames; an `L7Handler` sees one `L7Exchange` per
 * request and either answers it directly or forwards it to an `Upstream` with a mutated head.
 * Both protocols map onto the same view, so a route, a policy or a plugin is written once.
 *
 * Per-request cost matters here (design: the lean path): the view reads the parsed head in place
 * (`header(name)` scans the flat list; no header object is built), the handler is an object with
 * methods (no closure per request), and outcomes are reported through it.
 */
import type { Duplex } from 'node:stream';

/** What the handler sees of a request. Read-only; valid until the exchange ends. */
export interface RequestHeadView {
  readonly method: string;
  /** Path and query as received (HTTP/1.1 request-target, HTTP/2 `:path`). */
  readonly target: string;
  /** Host header or `:authority`, as received (port included). */
  readonly authority: string;
  readonly scheme: 'http' | 'https';
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
  /** A field by lower-case name; several lines joined with `, ` (`cookie` with `; `); undefined when absent. */
  header(name: string): string | undefined;
  /** All fields, flat `[name, value, ...]`, lower-case names, in received order (no pseudo-headers). */
  readonly headers: readonly string[];
  /** Whether a body follows the head (Content-Length > 0, chunked, or an HTTP/2 stream left open). */
  readonly hasBody: boolean;
  /** `content-type` starts with `application/grpc`. */
  readonly grpc: boolean;
  /** The protocol a WebSocket-style upgrade asks for (`websocket`), '' when none. */
  readonly upgrade: string;
  /** The client: the socket's peer, or the `address`/`port` of the DownstreamPeer the host handed in. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The peer's URI SAN (`spiffe://td/ns/x/sa/y`) when the host knows it (an HBONE stream), else undefined. */
  readonly peerPrincipal?: string | undefined;
  /** The address the connection was sent to, when the host knows it (a waypoint: the service VIP). */
  readonly localAddress?: string | undefined;
  /** The DownstreamPeer the host handed to `handleConnection`, as it was (hosts may carry more on it). */
  readonly peer?: DownstreamPeer | undefined;
}

/**
 * Who a downstream connection is from, when the host knows more than a socket says (an HBONE
 * stream handed to `L7Server.handleConnection`: the original client, the tunnel peer's identity).
 */
export interface DownstreamPeer {
  readonly address: string;
  readonly port: number;
  /** The peer's URI SAN (mTLS / HBONE), what RBAC `principals` match. */
  readonly peerPrincipal?: string | undefined;
  /** The address the client sent to (RBAC `destination_ip`). */
  readonly localAddress?: string | undefined;
  /** The peer's workload and namespace as the host knows them (a waypoint: the HBONE `baggage`). */
  readonly workload?: string | undefined;
  readonly namespace?: string | undefined;
}

/** Changes to a head on its way on. Header lists are flat `[name, value, ...]`, names lower-case. */
export interface HeadMutation {
  method?: string;
  target?: string;
  authority?: string;
  /** Replace (or add) these fields. */
  set?: readonly string[];
  /** Append these fields. */
  add?: readonly string[];
  /** Drop these fields (lower-case names). */
  remove?: readonly string[];
}

export interface ForwardOptions extends HeadMutation {
  /** Whole-attempt timeout (connect to last response byte), ms; 0/absent = none. Expiry: 504. */
  timeoutMs?: number;
  /** Mutation of the response head (status line untouched). */
  response?: Pick<HeadMutation, 'set' | 'add' | 'remove'>;
  /**
   * Response statuses the handler wants a say on before they are passed on (retriable status
   * codes): the handler's `upstreamOutcome` sees them uncommitted and may forward again.
   */
  holdStatus?(status: number): boolean;
  /**
   * Sees the upstream's response head before it goes downstream, after `response` was applied (the
   * plugins' response phase): it may change `fields` in place, or return an answer sent instead.
   */
  responseHead?: ResponseHeadHook;
}

export interface ResponseHeadHook {
  onResponseHead(status: number, fields: string[]): { status: number; headers: readonly string[]; body: string } | undefined;
}

export type UpstreamFailure = 'none' | 'connect-failure' | 'upstream-reset' | 'timeout' | 'protocol-error' | 'downstream-reset' | 'overflow';

/** How one upstream attempt went: for retries, outlier detection, access logs and metrics. */
export interface UpstreamOutcome {
  /** The upstream's status, 0 when none arrived. */
  status: number;
  failure: UpstreamFailure;
  /** Whether response bytes already went downstream (then nothing can be retried). */
  committed: boolean;
  /** Whether the request could be sent again (no body, or none of it consumed yet). */
  replayable: boolean;
  /** Whether the attempt went over a pooled (reused) connection. */
  reused: boolean;
  /** Request body bytes sent upstream and response body bytes received. */
  requestBytes: number;
  responseBytes: number;
  message: string;
}

/** Where a request can be forwarded: one endpoint's connection pool (HTTP/1.1 or HTTP/2). */
export interface Upstream {
  readonly protocol: 'http1' | 'h2';
  /** `ip:port` or a name, for logs. */
  readonly name: string;
  /** Engine-internal: starts one attempt for a proxied request. */
  start(req: ProxiedRequest): void;
}

/** One request: answer it or forward it, exactly once (again only after an uncommitted failure). */
export interface L7Exchange {
  readonly request: RequestHeadView;
  /** Answers directly. `headers` flat `[name, value, ...]`. A gRPC request gets trailers-only (grpc-status). */
  respond(status: number, headers?: readonly string[], body?: string | Buffer): void;
  /** Sends the request (mutated) to `upstream` and streams the answer back. */
  forward(upstream: Upstream, options?: ForwardOptions): void;
  /** Whether `respond` or `forward` was called and not since given back by an uncommitted failure. */
  readonly answered: boolean;
  /** The handler's own per-request slot (route, timings, plugin state). */
  state: unknown;
  /**
   * Reads the whole request body before the request is forwarded (plugins' body phase); it is then
   * sent to the upstream as read. Undefined when it is longer than `limit` bytes (the caller answers 413).
   */
  readBody?(limit: number): Promise<Buffer | undefined>;
}

/** What the engine tells the handler at the end of an exchange. */
export interface ExchangeSummary {
  status: number;
  requestBytes: number;
  responseBytes: number;
  /** The last attempt's failure, 'none' when it completed, or 'downstream-reset'. */
  failure: UpstreamFailure;
  attempts: number;
}

export interface L7Handler {
  /**
   * One request. Call `ex.respond()` or `ex.forward()` now or later. A throw or a rejected promise
   * answers 500; a promise that settles without an answer answers 500 as well.
   */
  request(ex: L7Exchange): void | Promise<void>;
  /**
   * Each upstream attempt's end. When `!outcome.committed` the handler may call `ex.forward()` or
   * `ex.respond()` again (a retry, a fallback) and return true; otherwise the engine answers with
   * the matching error (503 connect failure/reset, 504 timeout, 502 protocol error) or passes the
   * held response on.
   */
  upstreamOutcome?(ex: L7Exchange, outcome: UpstreamOutcome): boolean | void;
  /** The exchange is over (response sent or the client gone). */
  end?(ex: L7Exchange, summary: ExchangeSummary): void;
}

// ---- engine-internal: how a downstream exchange and an upstream attempt talk ----

/** Request body framing towards an upstream. */
export const enum BodyKind {
  None = 0,
  /** `bodyLength` bytes follow. */
  Length = 1,
  /** Length unknown: HTTP/1.1 chunked downstream (raw coded bytes available) or an HTTP/2 stream. */
  Stream = 2,
}

/** Response framing the upstream side reports. */
export const enum ResponseBody {
  None = 0,
  Length = 1,
  /** HTTP/1.1 chunked coded bytes, passed through raw (trailers inside). */
  ChunkedRaw = 2,
  /** Payload of unknown length (HTTP/2 upstream, or HTTP/1.1 read until close). */
  Stream = 3,
}

/** Where request body bytes go (an upstream attempt). */
export interface BodyTarget {
  /** Payload (or raw chunked bytes when the attempt asked for raw). False: pause until `resumeBody()`. */
  bodyData(buf: Buffer): boolean;
  /** The body ended; `trailers` flat (payload mode only). */
  bodyEnd(trailers: string[] | undefined): void;
}

/**
 * A request as an upstream attempt sees it (the downstream exchange implements it): the head after
 * mutation, the body as a pull-started stream, and the response side to push into.
 */
export interface ProxiedRequest {
  readonly method: string;
  readonly target: string;
  readonly authority: string;
  readonly scheme: 'http' | 'https';
  /** Fields to send: hop-by-hop removed, mutations applied, lower-case names. */
  readonly fields: string[];
  readonly bodyKind: BodyKind;
  readonly bodyLength: number;
  /** Whether the downstream body is HTTP/1.1 chunked (raw coded bytes can be passed through). */
  readonly chunkedSource: boolean;
  readonly upgrade: string;
  readonly grpc: boolean;
  readonly timeoutMs: number;
  /** The exchange is over (the client went away while this request waited): do not send it. */
  readonly finished: boolean;
  /** Starts the body flowing into `target` (raw: chunked coded bytes as received). */
  startBody(target: BodyTarget, raw: boolean): void;
  resumeBody(): void;
  /** Whether body bytes were consumed (the request can then not be replayed). */
  readonly bodyStarted: boolean;

  /** Response head. False: the handler took the exchange back (retry): drop this response. */
  responseHead(status: number, fields: string[], body: ResponseBody, length: number): boolean;
  /** False: pause reading until `attempt.resumeResponse()`. */
  responseData(buf: Buffer): boolean;
  responseTrailers(fields: string[]): void;
  /**
   * The attempt ended: complete (`failure` 'none': the response was fully handed over) or failed
   * (the exchange answers, retries through the handler, or resets a committed response).
   */
  attemptEnded(outcome: UpstreamOutcome): void;
  /** Whether raw HTTP/1.1 chunked bytes may be passed to this client as they are. */
  readonly acceptsChunkedRaw: boolean;
  /** Upstream said 101: splice `socket` (with `rest` already read past the head) to the client. */
  upgraded(fields: string[], socket: Duplex, rest: Buffer | undefined): void;
  /** Group writes made in one upstream read into one downstream write. */
  cork(): void;
  uncork(): void;
  /** The attempt registers itself so the exchange can resume it or tear it down. */
  attach(attempt: Attempt): void;
}

/** One upstream attempt as the exchange controls it. */
export interface Attempt {
  resumeResponse(): void;
  /** The client went away or the exchange was taken back: stop and release (destroying if mid-message). */
  abort(): void;
}

/** Bytes a writer may hold before its source is paused (as servers/splice.ts). */
export const WRITE_LIMIT = 256 * 1024;

/** Hop-by-hop fields (RFC 9110 7.6.1), never forwarded; `te: trailers` is re-added for gRPC. */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'expect', 'http2-settings', 'host', 'content-length']);

/** Reads a field from a flat list (lower-case name); repeated fields joined. */
export function fieldOf(fields: readonly string[], name: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === name) out = out === undefined ? fields[i + 1] : `${out}${name === 'cookie' ? '; ' : ', '}${fields[i + 1]}`;
  }
  return out;
}
