import { describe, expect, test } from 'vitest';
import { tcpLabels, TCP_LABEL_NAMES } from './tcp-labels.ts';
import { TcpMetrics } from './tcp-metrics.ts';
import { escapeLabelValue, formatValue } from './prometheus-text.ts';

const labels = tcpLabels({
  reporter: 'destination',
  source: { workload: 'sleep', namespace: 'default', principal: 'spiffe://cluster.local/ns/default/sa/sleep' },
  destination: { workload: 'httpbin', namespace: 'default', canonicalService: 'httpbin', canonicalRevision: 'v1', cluster: 'Kubernetes' },
  service: { hostname: 'httpbin.default.svc.cluster.local', name: 'httpbin', namespace: 'default' },
  securityPolicy: 'mutual_tls',
});

/** The samples of one family as { labels-object, value }. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`))
    .map((l) => {
      const m = /^[a-z_]+\{(.*)\} (\S+)$/.exec(l)!;
      const out: Record<string, string> = {};
      for (const kv of m[1].matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) out[kv[1]] = kv[2];
      return { labels: out, value: Number(m[2]) };
    });
}

describe('tcpLabels', () => {
  test('fills Istio label names with unknown, app/version from canonical names', () => {
    const l = tcpLabels({ reporter: 'source' });
    expect(Object.keys(l).sort()).toEqual([...TCP_LABEL_NAMES].sort());
    expect(l.source_workload).toBe('unknown');
    expect(l.source_canonical_revision).toBe('unknown');
    expect(l.request_protocol).toBe('tcp');
    expect(l.response_flags).toBe('-');
    expect(l.connection_security_policy).toBe('unknown');
    expect(labels.source_app).toBe('sleep');
    expect(labels.source_version).toBe('latest');
    expect(labels.destination_app).toBe('httpbin');
    expect(labels.destination_version).toBe('v1');
    expect(labels.destination_service_name).toBe('httpbin');
  });
});

describe('TcpMetrics', () => {
  test('opened, closed and bytes per label set; one series for equal labels', () => {
    const m = new TcpMetrics();
    const a = m.open(labels);
    const b = m.open({ ...labels }); // an equal label set built separately: same series
    a.received += 100;
    a.sent += 7;
    b.received += 1;
    a.close();
    const text = m.render();
    expect(samples(text, 'istio_tcp_connections_opened_total')).toHaveLength(1);
    expect(samples(text, 'istio_tcp_connections_opened_total')[0].value).toBe(2);
    expect(samples(text, 'istio_tcp_connections_closed_total')[0].value).toBe(1);
    // b is still open: its bytes show at scrape time all the same
    expect(samples(text, 'istio_tcp_received_bytes_total')[0].value).toBe(101);
    expect(samples(text, 'istio_tcp_sent_bytes_total')[0].value).toBe(7);
    expect(m.liveConnections).toBe(1);
    b.received += 9;
    b.close();
    b.close();
    const again = m.render();
    expect(samples(again, 'istio_tcp_received_bytes_total')[0].value).toBe(110);
    expect(samples(again, 'istio_tcp_connections_closed_total')[0].value).toBe(2);
    const l = samples(again, 'istio_tcp_sent_bytes_total')[0].labels;
    expect(l).toMatchObject({
      reporter: 'destination',
      source_principal: 'spiffe://cluster.local/ns/default/sa/sleep',
      destination_service: 'httpbin.default.svc.cluster.local',
      connection_security_policy: 'mutual_tls',
      request_protocol: 'tcp',
      response_flags: '-',
    });
    expect(Object.keys(l)).toEqual([...TCP_LABEL_NAMES]);
  });

  test('a close with another flag counts on its own series; refused() opens and closes', () => {
    const m = new TcpMetrics();
    m.open(labels).close('CONNECT');
    m.refused(labels, 'DENY');
    m.refused(labels, 'DENY');
    const text = m.render();
    expect(samples(text, 'istio_tcp_connections_opened_total').map((s) => s.value)).toEqual([3]);
    const closed = samples(text, 'istio_tcp_connections_closed_total').map((s) => [s.labels.response_flags, s.value]);
    expect(closed.sort()).toEqual([['CONNECT', 1], ['DENY', 2]]);
    expect(m.liveConnections).toBe(0);
  });

  test('exposition: HELP and TYPE for each family, escaped values', () => {
    const m = new TcpMetrics();
    m.open(tcpLabels({ reporter: 'source', source: { workload: 'we"ird\\\nname' } }));
    const text = m.render();
    for (const n of ['opened', 'closed']) expect(text).toContain(`# TYPE istio_tcp_connections_${n}_total counter\n`);
    expect(text).toContain('# HELP istio_tcp_sent_bytes_total ');
    expect(text).toContain('source_workload="we\\"ird\\\\\\nname"');
    expect(text.endsWith('\n')).toBe(true);
  });

  test('value formatting and escaping helpers', () => {
    expect(formatValue(1e21)).toBe('1e+21');
    expect(formatValue(123456789012)).toBe('123456789012');
    expect(formatValue(NaN)).toBe('NaN');
    expect(escapeLabelValue('plain')).toBe('plain');
  });

  test('per-chunk cost is a number add (a million chunks well under a second)', () => {
    const m = new TcpMetrics();
    const meter = m.open(labels);
    const t0 = performance.now();
    for (let i = 0; i < 1_000_000; i++) meter.received += 16384;
    meter.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(samples(m.render(), 'istio_tcp_received_bytes_total')[0].value).toBe(16384 * 1_000_000);
  });
});
