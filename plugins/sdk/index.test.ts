import { describe, expect, it, vi } from 'vitest';

// the host imports exist only inside a component; here they are plain functions
const host = vi.hoisted(() => ({ configText: '{"a":1}', configCalls: 0, counters: [] as [string, unknown][] }));
vi.mock('weft:plugin/host@0.2.0', () => ({
  config: () => (host.configCalls++, host.configText),
  counterAdd: (name: string, n: unknown) => host.counters.push([name, n]),
  histogramRecord: () => {},
  kvGet: () => null, // what a QuickJS guest gets for none
  kvSet: () => {},
  kvIncrement: (_k: string, d: number) => BigInt(d) + 1n, // what StarlingMonkey returns
  log: () => {},
  monotonicNow: () => 5_000_000,
}));

const sdk = await import('./index.ts');

describe('plugin SDK', () => {
  it('reads config once, on first use', () => {
    expect(host.configCalls).toBe(0);
    expect(sdk.config<{ a: number }>().a).toBe(1);
    sdk.config();
    expect(host.configCalls).toBe(1);
  });
  it('fills absent phases and wants only the given ones', () => {
    const f = sdk.defineFilter({ onResponseHeaders: () => sdk.action.route('r') });
    expect(f.wantedPhases()).toEqual({ requestHeaders: false, requestBody: false, responseHeaders: true, responseBody: false });
    // the outcome strings of weft:plugin@0.2.0: "" is continue with no change
    expect(f.onRequestHeaders('')).toBe('');
    expect(f.onResponseHeaders('')).toBe('rr\u0000');
  });
  it('narrows the wanted phases by phases(), never beyond the handlers given', () => {
    const f = sdk.defineFilter({
      onRequestHeaders: () => sdk.action.continue(),
      onResponseHeaders: () => sdk.action.continue(),
      phases: () => ({ requestHeaders: true, responseHeaders: false, requestBody: true }),
    });
    expect(f.wantedPhases()).toEqual({ requestHeaders: true, requestBody: false, responseHeaders: false, responseBody: false });
  });
  it('builds results in the WIT shapes', () => {
    expect(sdk.action.respond(429, 'slow down', { 'retry-after': '1' })).toEqual({
      tag: 'respond',
      val: { status: 429, body: 'slow down', headers: [{ name: 'retry-after', value: '1' }] },
    });
    expect(sdk.action.cluster('outbound|80||a.b')).toEqual({ tag: 'cluster', val: 'outbound|80||a.b' });
    expect(sdk.decision.deny('x')).toEqual({ tag: 'deny', val: 'x' });
    expect(sdk.defineL4Policy(() => sdk.decision.allow()).check({} as never)).toEqual({ tag: 'allow' });
  });
  it('passes u64 as Numbers and normalizes what engines return', () => {
    sdk.counter('hits').add();
    expect(host.counters).toEqual([['hits', 1]]);
    expect(sdk.kv.get('k')).toBeUndefined();
    expect(sdk.kv.increment('k', 2)).toBe(3);
    expect(sdk.nowMs()).toBe(5);
    const e = { address: 'a', labels: [['zone', 'z1']] as [string, string][], metrics: [['queue-depth', 3]] as [string, number][] };
    expect(sdk.metric(e, 'queue-depth')).toBe(3);
    expect(sdk.label(e, 'zone')).toBe('z1');
  });
});
