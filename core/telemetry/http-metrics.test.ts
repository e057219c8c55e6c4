import { describe, expect, it } from 'vitest';
import { HTTP_LABEL_NAMES, HttpMetrics } from './http-metrics.ts';
import { tcpLabels } from './tcp-labels.ts';

function base() {
  const { response_flags: _f, ...l } = tcpLabels({
    reporter: 'destination',
    source: { workload: 'client', namespace: 'demo', principal: 'spiffe://cluster.local/ns/demo/sa/client' },
    destination: { workload: 'echo-v1', namespace: 'demo', canonicalService: 'echo', canonicalRevision: 'v1' },
    service: { hostname: 'echo.demo.svc.cluster.local', name: 'echo', namespace: 'demo' },
    securityPolicy: 'mutual_tls',
    protocol: 'http',
  });
  return l;
}

describe('HttpMetrics', () => {
  it("renders Istio's request families with the outcome labels in Istio's order", () => {
    const m = new HttpMetrics();
    const g = m.group(base());
    g.record({ status: 200, durationMs: 3, requestBytes: 120, responseBytes: 800 });
    g.record({ status: 200, durationMs: 40, requestBytes: 90, responseBytes: 20 });
    g.record({ status: 503, durationMs: 1, requestBytes: 90, responseBytes: 19, flag: 'UH' });
    const text = m.render();
    const total = text.split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    expect(total).toHaveLength(2);
    expect(total[0]).toMatch(/request_protocol="http",response_code="200",grpc_response_status="-",response_flags="-",connection_security_policy="mutual_tls"\} 2$/);
    expect(total[1]).toMatch(/response_code="503",grpc_response_status="-",response_flags="UH".*\} 1$/);
    expect(text).toContain('# TYPE istio_request_duration_milliseconds histogram');
    // cumulative buckets: 3 ms is in le=5 and above, 40 ms in le=50 and above
    const bucket = (le: string) => text.split('\n').find((l) => l.startsWith('istio_request_duration_milliseconds_bucket{') && l.includes('response_code="200"') && l.includes(`le="${le}"`));
    expect(bucket('1')).toMatch(/ 0$/);
    expect(bucket('5')).toMatch(/ 1$/);
    expect(bucket('50')).toMatch(/ 2$/);
    expect(bucket('+Inf')).toMatch(/ 2$/);
    expect(text).toMatch(/istio_request_duration_milliseconds_sum\{[^}]*response_code="200"[^}]*\} 43\n/);
    expect(text).toMatch(/istio_response_bytes_count\{[^}]*response_code="200"[^}]*\} 2\n/);
    expect(HTTP_LABEL_NAMES.indexOf('response_code')).toBe(HTTP_LABEL_NAMES.indexOf('request_protocol') + 1);
  });

  it('keeps gRPC statuses apart and shares series between groups with the same labels', () => {
    const m = new HttpMetrics();
    const a = m.group({ ...base(), request_protocol: 'grpc' });
    const b = m.group({ ...base(), request_protocol: 'grpc' });
    a.record({ status: 200, grpcStatus: 0, durationMs: 1, requestBytes: 5, responseBytes: 7 });
    b.record({ status: 200, grpcStatus: 0, durationMs: 1, requestBytes: 5, responseBytes: 7 });
    a.record({ status: 200, grpcStatus: 14, durationMs: 1, requestBytes: 5, responseBytes: 0 });
    const total = m.render().split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    expect(total.map((l) => [l.match(/grpc_response_status="(\d+)"/)?.[1], l.split(' ').pop()])).toEqual([
      ['0', '2'],
      ['14', '1'],
    ]);
  });
});
