/** The L7 proxies' JSON access log line (Envoy's default fields, as Istio's JSON encoding names them). */
import type { ExchangeSummary, RequestHeadView } from '../l7/index.ts';

/** The request's side of the access log line, read while the head is valid. */
export function requestLogFields(h: RequestHeadView): Record<string, unknown> {
  return {
    method: h.method,
    path: h.target,
    protocol: h.protocol,
    authority: h.authority,
    downstream_remote_address: `${h.remoteAddress}:${h.remotePort}`,
    user_agent: h.header('user-agent') ?? null,
    x_forwarded_for: h.header('x-forwarded-for') ?? null,
    request_id: h.header('x-request-id') ?? null,
  };
}

/** One JSON line per request, Envoy's default access log fields (as Istio's JSON encoding names them). */
export function accessLogLine(
  start: number,
  fields: Record<string, unknown> | undefined,
  s: ExchangeSummary,
  durationMs: number,
  flag: string,
  cluster: string | undefined,
  host: string | undefined,
  route: string | undefined,
): string {
  return `${JSON.stringify({
    start_time: new Date(start).toISOString(),
    ...fields,
    response_code: s.status,
    response_flags: flag,
    bytes_received: s.requestBytes,
    bytes_sent: s.responseBytes,
    duration: durationMs,
    upstream_cluster: cluster ?? null,
    upstream_host: host ?? null,
    route_name: route || null,
    attempts: s.attempts,
  })}\n`;
}
