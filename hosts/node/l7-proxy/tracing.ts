/**
 * Tracing in the L7 proxy (design.md 7): every forwarded request carries a W3C `traceparent`
 * whose parent is this proxy's span, continuing the incoming trace (same trace id, `tracestate`
 * passed on unchanged) or starting one (no or an invalid `traceparent`; an orphaned `tracestate`
 * is dropped). When an exporter is configured, sampled requests are recorded as one span each
 * (Envoy's HCM span: kind SERVER, `<authority><path>`, the upstream call's attributes) and handed
 * to it at the end of the exchange (otlp-exporter.ts).
 *
 * Sampling, as Envoy with Istio's tracing: an incoming trace keeps its sampled flag (its decision
 * is the caller's); a started trace is sampled with `samplingPercent` (Istio's default 1) and only
 * when there is an exporter (a sampled flag nobody records would leave the trace's root missing).
 *
 * Cost: without an exporter, or for an unsampled request, a request costs one scan of the header
 * list, a bounds-and-hex check of the incoming value, a span id (16 hex digits from a pooled
 * CSPRNG buffer, one native hex encode) and the `traceparent` string; ids and the string are made
 * only when the request is forwarded. A recorded request adds one record and a monotonic clock read.
 */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { HttpSpan } from '../../../core/telemetry/otlp-json.ts';
import { formatTraceparent, parseTraceparent, PooledTraceIds, type TraceIds } from '../../../core/telemetry/trace-context.ts';
import type { ExchangeSummary, ForwardOptions, RequestHeadView } from '../l7/index.ts';

/** Where recorded spans go (the OTLP exporter, or a test's array). Must not block or throw. */
export interface SpanSink {
  add(span: HttpSpan): void;
}

export interface TracingOptions {
  /** Recorded spans go here; none: propagation only. */
  exporter?: SpanSink;
  /** Percent (0-100) of started traces that are sampled. Default 1 (Istio's default). */
  samplingPercent?: number;
  ids?: TraceIds;
  random?: () => number;
  /** Epoch milliseconds with fractions. */
  clock?: () => number;
}

/** Ids from a 4 KiB pool refilled by the CSPRNG, hex-encoded natively (one string per id, no per-byte work in JS). */
export function nodeTraceIds(): TraceIds {
  const pool = Buffer.allocUnsafeSlow(4096);
  return new PooledTraceIds((b) => randomFillSync(b), { pool, hex: (b, from, len) => (b as Buffer).toString('hex', from, from + len) });
}

const epochMs = (): number => performance.timeOrigin + performance.now();

/** One request's trace context (ex.state holds it). */
export class RequestTrace {
  /** The incoming trace id, or undefined until a started trace needs one. */
  traceId: string | undefined;
  /** This proxy's span id; made when first needed. */
  spanId: string | undefined;
  /** Set when this request is recorded (sampled, with an exporter). */
  span: HttpSpan | undefined;
  constructor(
    traceId: string | undefined,
    /** The incoming span id (this proxy's span's parent). */
    readonly parentId: string | undefined,
    readonly sampled: boolean,
    /** A `tracestate` came without a valid `traceparent`: drop it. */
    readonly dropState: boolean,
  ) {
    this.traceId = traceId;
  }
}

export class Tracing {
  readonly #exporter: SpanSink | undefined;
  readonly #percent: number;
  readonly #ids: TraceIds;
  readonly #random: () => number;
  readonly #clock: () => number;

  constructor(o: TracingOptions = {}) {
    this.#exporter = o.exporter;
    this.#percent = Math.min(100, Math.max(0, o.samplingPercent ?? 1));
    this.#ids = o.ids ?? nodeTraceIds();
    this.#random = o.random ?? Math.random;
    this.#clock = o.clock ?? epochMs;
  }

  get exporting(): boolean {
    return this.#exporter !== undefined;
  }

  /** At the start of a request, while its head is valid. */
  begin(head: RequestHeadView): RequestTrace {
    // one pass over the fields for both names (repeated traceparent lines make it invalid: joined)
    const f = head.headers;
    let tp: string | undefined;
    let state = false;
    for (let i = 0; i < f.length; i += 2) {
      const n = f[i]!;
      if (n.length === 11 && n === 'traceparent') tp = tp === undefined ? f[i + 1] : `${tp},${f[i + 1]}`;
      else if (n.length === 10 && n === 'tracestate') state = true;
    }
    const parent = parseTraceparent(tp);
    const t = parent
      ? new RequestTrace(parent.traceId, parent.spanId, (parent.flags & 1) === 1, false)
      : new RequestTrace(undefined, undefined, this.#exporter !== undefined && this.#percent > 0 && this.#random() * 100 < this.#percent, state);
    if (t.sampled && this.#exporter !== undefined) this.#record(t, head);
    return t;
  }

  #record(t: RequestTrace, head: RequestHeadView): void {
    t.traceId ??= this.#ids.traceId();
    t.spanId ??= this.#ids.spanId();
    // one literal with every field (a stable shape; no spreads on the request path)
    t.span = {
      traceId: t.traceId,
      spanId: t.spanId,
      parentSpanId: t.parentId,
      startMs: this.#clock(),
      endMs: 0,
      method: head.method,
      target: head.target,
      authority: head.authority,
      scheme: head.scheme,
      protocol: head.protocol,
      status: 0,
      responseFlags: '-',
      upstreamCluster: undefined,
      upstreamAddress: undefined,
      clientAddress: head.remoteAddress,
      userAgent: head.header('user-agent'),
      requestBytes: 0,
      responseBytes: 0,
      attempts: 0,
    };
  }

  /** Before forwarding: this proxy's span as the upstream's parent (`set` is the forward's own list). */
  inject(t: RequestTrace, set: string[], options: ForwardOptions): void {
    t.traceId ??= this.#ids.traceId();
    t.spanId ??= this.#ids.spanId();
    set.push('traceparent', formatTraceparent(t.traceId, t.spanId, t.sampled));
    if (t.dropState) options.remove = options.remove ? [...options.remove, 'tracestate'] : ['tracestate'];
  }

  /** At the end of the exchange (the head is not valid any more): hands a recorded span to the exporter. */
  end(t: RequestTrace, s: ExchangeSummary, flag: string, cluster: string | undefined, upstream: string | undefined): void {
    const span = t.span;
    if (span === undefined) return;
    span.endMs = this.#clock();
    span.status = s.status;
    span.responseFlags = flag;
    span.requestBytes = s.requestBytes;
    span.responseBytes = s.responseBytes;
    span.attempts = s.attempts;
    span.upstreamCluster = cluster;
    span.upstreamAddress = upstream;
    this.#exporter?.add(span);
  }
}

let propagateOnly: Tracing | undefined;

/** A handler made without tracing options still propagates (one shared instance, no exporter). */
export function defaultTracing(): Tracing {
  return (propagateOnly ??= new Tracing());
}
