import { describe, expect, it } from 'vitest';
import { OutlierDetector } from './outlier.ts';
import type { OutlierEvent } from './outlier.ts';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i}`);

describe('outlier detection (fake clock)', () => {
  it('ejects after consecutive 5xx, returns after base ejection time on a sweep, doubles the second time', () => {
    const d = new OutlierDetector({ consecutive5xx: 3, intervalMs: 1000, baseEjectionMs: 5000, maxEjectionPercent: 100 });
    const events: OutlierEvent[] = [];
    d.onChange = (e) => events.push(e);
    d.setHosts(hosts(2));
    let t = 0;
    d.report('h0', 503, t);
    d.report('h0', 500, t);
    d.report('h0', 200, t); // a success resets the count
    d.report('h0', 500, t);
    d.report('h0', 502, t);
    expect(d.isEjected('h0')).toBe(false);
    expect(d.report('h0', 504, (t = 100))).toBe(true);
    expect(d.isEjected('h0')).toBe(true);
    // Not back before 5 s, and only on a sweep.
    for (t = 1000; t < 5100; t += 1000) d.tick(t);
    expect(d.isEjected('h0')).toBe(true);
    d.tick((t = 5100)); // due (100 + 5000) but between sweeps: the next sweep returns it, as Envoy's timer
    expect(d.isEjected('h0')).toBe(true);
    d.tick((t = 6000));
    expect(d.isEjected('h0')).toBe(false);
    expect(events.map((e) => `${e.kind}@${e.at}`)).toEqual(['eject@100', 'return@6000']);
    // Second ejection lasts 2 x base.
    for (let i = 0; i < 3; i++) d.report('h0', 500, 6000);
    expect(d.ejections('h0')).toBe(2);
    d.tick(15_000);
    expect(d.isEjected('h0')).toBe(true);
    d.tick(16_000);
    expect(d.isEjected('h0')).toBe(false);
  });

  it('does not count 4xx and tracks hosts separately', () => {
    const d = new OutlierDetector({ consecutive5xx: 2, maxEjectionPercent: 100 });
    d.setHosts(hosts(2));
    d.report('h0', 500, 0);
    d.report('h1', 500, 0);
    d.report('h0', 404, 0);
    d.report('h0', 500, 0);
    expect(d.isEjected('h0')).toBe(false);
    d.report('h1', 500, 0);
    expect(d.isEjected('h1')).toBe(true);
  });

  it('respects max_ejection_percent', () => {
    const d = new OutlierDetector({ consecutive5xx: 1, maxEjectionPercent: 50 });
    d.setHosts(hosts(4));
    for (const h of hosts(4)) d.report(h, 500, 0);
    expect(d.ejectedCount()).toBe(2);
    // The default 10% never ejects one of three (Envoy: (0 + 1) / 3 > 10%).
    const e = new OutlierDetector({ consecutive5xx: 1 });
    e.setHosts(hosts(3));
    e.report('h0', 500, 0);
    expect(e.isEjected('h0')).toBe(false);
  });

  it('enforces by percentage with the given random, and gateway failures only when enforced', () => {
    let r = 0.7;
    const d = new OutlierDetector({ consecutive5xx: 1, enforcingConsecutive5xx: 50, maxEjectionPercent: 100 }, () => r);
    d.setHosts(hosts(2));
    d.report('h0', 500, 0);
    expect(d.isEjected('h0')).toBe(false);
    r = 0.2;
    d.report('h0', 500, 0);
    expect(d.isEjected('h0')).toBe(true);
    const g = new OutlierDetector({ consecutive5xx: 0, consecutiveGatewayFailure: 2, enforcingConsecutiveGatewayFailure: 100, maxEjectionPercent: 100 });
    g.setHosts(hosts(2));
    g.report('h0', 503, 0);
    g.report('h0', 500, 0); // not a gateway failure: resets that count
    g.report('h0', 502, 0);
    expect(g.isEjected('h0')).toBe(false);
    g.report('h0', 504, 0);
    expect(g.isEjected('h0')).toBe(true);
  });

  it('caps the ejection time at max_ejection_time and forgives after a healthy period', () => {
    const d = new OutlierDetector({ consecutive5xx: 1, intervalMs: 1000, baseEjectionMs: 1000, maxEjectionMs: 3000, maxEjectionPercent: 100 });
    d.setHosts(['a', 'b']);
    let t = 0;
    for (let round = 0; round < 5; round++) {
      d.report('a', 500, t);
      const at = t;
      while (d.isEjected('a')) d.tick((t += 1000));
      expect(t - at).toBeLessThanOrEqual(3000);
    }
    expect(d.ejections('a')).toBe(3);
    for (let i = 0; i < 5; i++) d.tick((t += 1000));
    expect(d.ejections('a')).toBe(0);
  });

  it('forgets endpoints that leave and counts their ejection out', () => {
    const d = new OutlierDetector({ consecutive5xx: 1, maxEjectionPercent: 100 });
    d.setHosts(hosts(3));
    d.report('h2', 500, 0);
    expect(d.ejectedCount()).toBe(1);
    d.setHosts(['h0', 'h1']);
    expect(d.ejectedCount()).toBe(0);
    expect(d.report('h2', 500, 0)).toBe(false);
  });
});
