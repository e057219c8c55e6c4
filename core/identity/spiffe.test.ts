import { describe, expect, test } from 'vitest';
import { formatSpiffeId, formatWorkloadIdentity, parseSpiffeId, parseWorkloadIdentity, sameWorkloadIdentity, trustDomainProblem } from './spiffe.ts';

describe('SPIFFE ids', () => {
  test('parses and formats the workload form', () => {
    const id = parseWorkloadIdentity('spiffe://cluster.local/ns/default/sa/sleep');
    expect(id).toEqual({ ok: true, value: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'sleep' } });
    expect(formatWorkloadIdentity({ trustDomain: 'td', namespace: 'a', serviceAccount: 'b' })).toBe('spiffe://td/ns/a/sa/b');
  });

  test('generic ids keep their segments', () => {
    const id = parseSpiffeId('spiffe://example.org/a/b.c/d_e-f');
    expect(id.ok && id.value.segments).toEqual(['a', 'b.c', 'd_e-f']);
    expect(id.ok && formatSpiffeId(id.value)).toBe('spiffe://example.org/a/b.c/d_e-f');
    expect(parseSpiffeId('spiffe://example.org')).toEqual({ ok: true, value: { trustDomain: 'example.org', segments: [] } });
  });

  test.each([
    ['https://cluster.local/ns/a/sa/b', /scheme/],
    ['spiffe://Cluster.Local/ns/a/sa/b', /lowercase/],
    ['spiffe:///ns/a/sa/b', /empty/],
    ['spiffe://td:8080/ns/a/sa/b', /port/],
    ['spiffe://user@td/ns/a/sa/b', /user info/],
    ['spiffe://td/ns/a/sa/b/', /empty path segment/],
    ['spiffe://td/ns//sa/b', /empty path segment/],
    ['spiffe://td/ns/../sa/b', /"\."/],
    ['spiffe://td/ns/a/sa/b?x=1', /query/],
    ['spiffe://td/ns/a b/sa/c', /may hold only/],
  ])('refuses %s', (uri, why) => {
    const r = parseSpiffeId(uri);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(why);
  });

  test('the workload form needs exactly ns/<ns>/sa/<sa>', () => {
    for (const uri of ['spiffe://td/ns/a', 'spiffe://td/ns/a/sa/b/c', 'spiffe://td/sa/a/ns/b']) {
      const r = parseWorkloadIdentity(uri);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toMatch(/not a workload identity/);
    }
  });

  test('trust domain rules and alias-aware comparison', () => {
    expect(trustDomainProblem('cluster.local')).toBeUndefined();
    expect(trustDomainProblem('x'.repeat(256))).toMatch(/255/);
    const a = { trustDomain: 'cluster.local', namespace: 'n', serviceAccount: 's' };
    const b = { ...a, trustDomain: 'old.local' };
    expect(sameWorkloadIdentity(a, b, ['cluster.local'])).toBe(false);
    expect(sameWorkloadIdentity(a, b, ['cluster.local', 'old.local'])).toBe(true);
    expect(sameWorkloadIdentity(a, { ...a, serviceAccount: 't' }, ['cluster.local'])).toBe(false);
  });
});
