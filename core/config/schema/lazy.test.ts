import { describe, expect, it } from 'vitest';
import { lazy } from './lazy.ts';
import { lookupKind } from '../kinds.ts';

describe('lazy schemas', () => {
  it('builds once, on the first call', () => {
    let built = 0;
    const get = lazy(() => ({ n: ++built }));
    expect(built).toBe(0);
    const first = get();
    expect(get()).toBe(first);
    expect(built).toBe(1);
  });

  it('a deferred kind validates on first use, and keeps one schema', () => {
    const dr = lookupKind('networking.istio.io/v1', 'DestinationRule');
    if (dr.found !== 'ok') throw new Error('DestinationRule not found');
    const ok = dr.schema.safeParse({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'r', namespace: 'd' }, spec: { host: 'echo', subsets: [{ name: 'v1', labels: { v: '1' } }] } });
    expect(ok.success).toBe(true);
    const bad = dr.schema.safeParse({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'r' }, spec: { host: 'echo', subsets: [{ name: 'v1' }, { name: 'v1' }] } });
    expect(bad.success).toBe(false);
    const again = lookupKind('networking.istio.io/v1beta1', 'DestinationRule');
    expect(again.found === 'ok' && again.schema).toBe(dr.schema);
    const pod = lookupKind('v1', 'Pod');
    expect(pod.found === 'ok' && pod.schema.safeParse({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [] } }).success).toBe(false);
  });
});
