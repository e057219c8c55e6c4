import { describe, expect, test } from 'vitest';
import { connectionLogRecord, formatConnectionLog } from './access-log.ts';
import { tcpLabels } from './tcp-labels.ts';

describe('access log record', () => {
  const base = {
    startTime: Date.UTC(2025, 0, 2, 3, 4, 5, 6),
    endTime: Date.UTC(2025, 0, 2, 3, 4, 5, 6) + 1234,
    srcAddr: '10.0.0.1:40000',
    dstAddr: '10.0.0.2:15008',
    hboneAddr: '10.0.0.2:8080',
    bytes: { received: 10, sent: 20 },
  };

  test('outbound mTLS: identities, service, bytes from the proxy view, one JSON line', () => {
    const labels = tcpLabels({
      reporter: 'source',
      source: { workload: 'sleep', namespace: 'a', principal: 'spiffe://td/ns/a/sa/sleep' },
      destination: { workload: 'echo', namespace: 'b', principal: 'spiffe://td/ns/b/sa/echo' },
      service: { hostname: 'echo.b.svc.cluster.local' },
      securityPolicy: 'mutual_tls',
    });
    const rec = connectionLogRecord({ ...base, labels, via: 'socks5', authz: { decision: 'allow' } });
    expect(rec).toMatchObject({
      start_time: '2025-01-02T03:04:05.006Z',
      duration_ms: 1234,
      direction: 'outbound',
      src: { addr: '10.0.0.1:40000', workload: 'sleep', namespace: 'a', identity: 'spiffe://td/ns/a/sa/sleep' },
      dst: { addr: '10.0.0.2:15008', hbone_addr: '10.0.0.2:8080', service: 'echo.b.svc.cluster.local', identity: 'spiffe://td/ns/b/sa/echo' },
      bytes_sent: 10,
      bytes_recv: 20,
      response_flags: '-',
      authz: { decision: 'allow' },
    });
    const line = formatConnectionLog(rec);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(rec)));
  });

  test('inbound plaintext: no identities, unknowns left out, deny flag and reason', () => {
    const labels = tcpLabels({ reporter: 'destination', source: { principal: 'spiffe://td/ns/a/sa/x' }, securityPolicy: 'none' });
    const rec = connectionLogRecord({
      ...base,
      labels,
      responseFlags: 'DENY',
      error: 'authz-denied',
      authz: { decision: 'deny', policy: 'ns/deny-all' },
    });
    expect(rec.direction).toBe('inbound');
    expect(rec.src.identity).toBeUndefined();
    expect(rec.src.workload).toBeUndefined();
    expect(rec.bytes_sent).toBe(20);
    expect(rec.bytes_recv).toBe(10);
    expect(rec.response_flags).toBe('DENY');
    expect(JSON.parse(formatConnectionLog(rec))).not.toHaveProperty('dst.service');
  });
});
