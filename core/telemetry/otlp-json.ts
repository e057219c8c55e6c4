/**
 * OTLP/HTTP JSON for traces: the protobuf-JSON mapping of `ExportTraceServiceRequest`
 * (opentelemetry-proto collector/trace/v1 and trace/v1, as the OTLP spec's "JSON Protobuf
 * Encoding" writes it: lowerCamelCase field names, trace and span ids as hex (not base64), enums
 * as integers, 64-bit integers as decimal strings). Pure: the host times the request, keeps the
 * record and POSTs the body to `<endpoint>/v1/traces`.
 *
 * The proxy's span for one request (Envoy's HCM span: kind SERVER, named `<authority><path>`) is
 * recorded as an `HttpSpan`, a flat record cheap to keep; attributes are built only at export.
 * Names follow the OpenTelemetry HTTP semantic conventions, plus Envoy's own tags for what they do
 * not cover (`upstream_cluster`, `upstream_address`, `response_flags`).
 */

/** trace/v1 Span.SpanKind */
export const SpanKind = { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
/** trace/v1 Status.StatusCode */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export type OtlpAnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean } | { doubleValue: number };
export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span (omitted). */
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  status: { code?: number; message?: string };
}

export interface ExportTraceServiceRequest {
  resourceSpans: {
    resource: { attributes: OtlpKeyValue[] };
    scopeSpans: { scope: { name: string; version?: string }; spans: OtlpSpan[] }[];
  }[];
}

/** One proxied (or locally answered) request as the proxy saw it. */
export interface HttpSpan {
  traceId: string;
  spanId: string;
  /** The incoming `traceparent`'s span id; absent when this proxy started the trace. */
  parentSpanId?: string;
  /** Epoch milliseconds (fractions kept: a monotonic clock's precision). */
  startMs: number;
  endMs: number;
  method: string;
  /** Request target as received (the query is cut off for url.path and the span name). */
  target: string;
  authority: string;
  scheme: string;
  protocol: string;
  /** Response status sent downstream; 0 when none was (the client went away). */
  status: number;
  /** Envoy's response flags (`-` when none). */
  responseFlags: string;
  upstreamCluster?: string;
  upstreamAddress?: string;
  clientAddress?: string;
  userAgent?: string;
  requestBytes: number;
  responseBytes: number;
  attempts: number;
}

/** Epoch milliseconds (with fractions) as the decimal string of epoch nanoseconds (fixed64 in JSON). */
export function unixNanoString(ms: number): string {
  let whole = Math.floor(ms);
  let nanos = Math.round((ms - whole) * 1e6);
  if (nanos >= 1e6) {
    whole += 1;
    nanos -= 1e6;
  }
  if (whole <= 0) return whole === 0 ? String(nanos) : '0';
  return `${whole}${String(nanos).padStart(6, '0')}`;
}

export const str = (key: string, v: string): OtlpKeyValue => ({ key, value: { stringValue: v } });
export const int = (key: string, v: number): OtlpKeyValue => ({ key, value: { intValue: String(Math.trunc(v)) } });

/** Host and port of an authority (`[v6]:port` aware); port undefined when none is written. */
function splitAuthority(a: string): { host: string; port: number | undefined } {
  const close = a.startsWith('[') ? a.indexOf(']') : -1;
  const colon = a.lastIndexOf(':');
  if (colon > close && colon !== -1) {
    const port = Number(a.slice(colon + 1));
    return { host: a.slice(0, colon), port: Number.isInteger(port) && a.length > colon + 1 ? port : undefined };
  }
  return { host: a, port: undefined };
}

const PROTOCOL_VERSION: Record<string, string> = { 'HTTP/1.0': '1.0', 'HTTP/1.1': '1.1', 'HTTP/2': '2' };

/** The proxy's span of one request as OTLP: kind SERVER, status ERROR for 5xx or no response. */
export function httpSpanToOtlp(s: HttpSpan): OtlpSpan {
  const q = s.target.indexOf('?');
  const path = q === -1 ? s.target : s.target.slice(0, q);
  const { host, port } = splitAuthority(s.authority);
  const attributes: OtlpKeyValue[] = [str('http.request.method', s.method), str('url.path', path), str('url.scheme', s.scheme), str('server.address', host)];
  if (port !== undefined) attributes.push(int('server.port', port));
  attributes.push(str('network.protocol.version', PROTOCOL_VERSION[s.protocol] ?? s.protocol));
  if (s.status !== 0) attributes.push(int('http.response.status_code', s.status));
  if (s.clientAddress) attributes.push(str('client.address', s.clientAddress));
  if (s.userAgent) attributes.push(str('user_agent.original', s.userAgent));
  if (s.upstreamCluster) attributes.push(str('upstream_cluster', s.upstreamCluster));
  if (s.upstreamAddress) attributes.push(str('upstream_address', s.upstreamAddress));
  attributes.push(str('response_flags', s.responseFlags), int('http.request.body.size', s.requestBytes), int('http.response.body.size', s.responseBytes));
  if (s.attempts > 1) attributes.push(int('http.request.resend_count', s.attempts - 1));
  const error = s.status >= 500 || s.status === 0;
  const span: OtlpSpan = {
    traceId: s.traceId,
    spanId: s.spanId,
    name: `${s.authority}${path}`,
    kind: SpanKind.SERVER,
    startTimeUnixNano: unixNanoString(s.startMs),
    endTimeUnixNano: unixNanoString(Math.max(s.endMs, s.startMs)),
    attributes,
    status: error ? { code: StatusCode.ERROR, ...(s.responseFlags !== '-' ? { message: s.responseFlags } : {}) } : {},
  };
  if (s.parentSpanId) span.parentSpanId = s.parentSpanId;
  return span;
}

/** One resource (this proxy: `service.name` and the rest of `resource`), one scope, the spans. */
export function traceExportRequest(resource: Record<string, string>, scope: { name: string; version?: string }, spans: OtlpSpan[]): ExportTraceServiceRequest {
  return {
    resourceSpans: [
      {
        resource: { attributes: Object.entries(resource).map(([k, v]) => str(k, v)) },
        scopeSpans: [{ scope, spans }],
      },
    ],
  };
}
