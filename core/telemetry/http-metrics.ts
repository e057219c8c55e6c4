/**
 * Istio's request metrics as a waypoint or gateway reports them: `istio_requests_total` (counter),
 * `istio_request_duration_milliseconds`, `istio_request_bytes` and `istio_response_bytes`
 * (histograms), with the TCP label set plus `response_code` and `grpc_response_status`
 * (https://istio.io/latest/docs/reference/config/metrics/), so Istio's dashboards read Weft.
 *
 * Cost on the data path: the engine resolves a `RequestSeriesGroup` once per (source, route,
 * destination) — per connection or per compiled route, not per request — and each request then
 * records into the group with its status code: one Map lookup by number and a few additions into
 * preallocated bucket arrays. No label strings are built per request.
 */
import { familyHeader, formatValue, renderLabels } from './prometheus-text.ts';
import { TCP_LABEL_NAMES, type ResponseFlag, type TcpLabels } from './tcp-labels.ts';

export interface HttpLabels extends TcpLabels {
  response_code: string;
  grpc_response_status: string;
}

/** Label order: the TCP order with the response code and gRPC status after request_protocol. */
export const HTTP_LABEL_NAMES: readonly (keyof HttpLabels)[] = (() => {
  const names: (keyof HttpLabels)[] = [...TCP_LABEL_NAMES];
  names.splice(names.indexOf('request_protocol') + 1, 0, 'response_code', 'grpc_response_status');
  return names;
})();

/** Envoy's default histogram buckets, which Istio's standard metrics use (ms for durations, bytes for sizes). */
export const DEFAULT_BUCKETS: readonly number[] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = new Float64Array(buckets.length);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.buckets;
    // first bucket whose upper bound holds v (cumulated at render)
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

class RequestSeries {
  requests = 0;
  readonly duration = new Histogram(DEFAULT_BUCKETS);
  readonly requestBytes = new Histogram(DEFAULT_BUCKETS);
  readonly responseBytes = new Histogram(DEFAULT_BUCKETS);
  constructor(readonly labelText: string) {}
}

export interface RequestOutcome {
  status: number;
  /** gRPC status from the trailers (or trailers-only headers); undefined for non-gRPC. */
  grpcStatus?: number;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
  /** Envoy response flag: `-`, `UH` no healthy upstream, `UF` upstream connection failure, `UT` timeout, `NR` no route, `DC` downstream closed, `RL` rate limited, `UAEX` ext_authz denied, `URX` retries exhausted. */
  flag?: string;
}

/** Requests that share every label but the outcome's (code, gRPC status, flag). */
export class RequestSeriesGroup {
  readonly #byCode = new Map<number, RequestSeries>();
  readonly #other = new Map<string, RequestSeries>();

  /** @internal made by HttpMetrics.group */
  constructor(
    private readonly owner: HttpMetrics,
    readonly labels: Omit<HttpLabels, 'response_code' | 'grpc_response_status' | 'response_flags'>,
  ) {}

  record(o: RequestOutcome): void {
    let s: RequestSeries | undefined;
    if (o.grpcStatus === undefined && (o.flag === undefined || o.flag === '-')) {
      s = this.#byCode.get(o.status);
      if (!s) {
        s = this.owner.series(this.labels, String(o.status), '-', '-');
        this.#byCode.set(o.status, s);
      }
    } else {
      const grpc = o.grpcStatus === undefined ? '-' : String(o.grpcStatus);
      const flag = o.flag ?? '-';
      const key = `${o.status}|${grpc}|${flag}`;
      s = this.#other.get(key);
      if (!s) {
        s = this.owner.series(this.labels, String(o.status), grpc, flag);
        this.#other.set(key, s);
      }
    }
    s.requests++;
    s.duration.observe(o.durationMs);
    s.requestBytes.observe(o.requestBytes);
    s.responseBytes.observe(o.responseBytes);
  }
}

const FAMILIES = [
  ['istio_request_duration_milliseconds', 'Duration of requests in milliseconds', 'duration'],
  ['istio_request_bytes', 'Sizes of requests in bytes', 'requestBytes'],
  ['istio_response_bytes', 'Sizes of responses in bytes', 'responseBytes'],
] as const;

export class HttpMetrics {
  readonly #series = new Map<string, RequestSeries>();

  /** The group for a label set without its outcome labels; resolve once and keep it. */
  group(labels: Omit<HttpLabels, 'response_code' | 'grpc_response_status' | 'response_flags'>): RequestSeriesGroup {
    return new RequestSeriesGroup(this, labels);
  }

  /** @internal */
  series(base: Omit<HttpLabels, 'response_code' | 'grpc_response_status' | 'response_flags'>, code: string, grpc: string, flag: string): RequestSeries {
    const labels = { ...base, response_code: code, grpc_response_status: grpc, response_flags: flag as ResponseFlag } as HttpLabels;
    let key = '';
    for (const n of HTTP_LABEL_NAMES) key += `${labels[n]}\u0001`;
    let s = this.#series.get(key);
    if (!s) {
      s = new RequestSeries(renderLabels(labels, HTTP_LABEL_NAMES));
      this.#series.set(key, s);
    }
    return s;
  }

  render(): string {
    let out = familyHeader('istio_requests_total', 'Total requests', 'counter');
    for (const s of this.#series.values()) out += `istio_requests_total${s.labelText} ${formatValue(s.requests)}\n`;
    for (const [name, help, field] of FAMILIES) {
      out += familyHeader(name, help, 'histogram');
      for (const s of this.#series.values()) {
        const h = s[field];
        const open = s.labelText.slice(0, -1); // `{...` without the closing brace, to add `le`
        let cumulative = 0;
        for (let i = 0; i < h.buckets.length; i++) {
          cumulative += h.counts[i]!;
          out += `${name}_bucket${open},le="${formatValue(h.buckets[i]!)}"} ${formatValue(cumulative)}\n`;
        }
        out += `${name}_bucket${open},le="+Inf"} ${formatValue(h.count)}\n`;
        out += `${name}_sum${s.labelText} ${formatValue(h.sum)}\n`;
        out += `${name}_count${s.labelText} ${formatValue(h.count)}\n`;
      }
    }
    return out;
  }

  metrics(): string {
    return this.render();
  }
}
