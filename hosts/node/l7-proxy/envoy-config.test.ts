import { describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../../core/xds/index.ts';
import { envoy } from '../../../core/xds/pb.ts';
import { EnvoyConfigStore } from './envoy-config.ts';

const encodeCluster = (name: string) => envoy.config.cluster.v3.Cluster.encode({ name }).finish();

describe('EnvoyConfigStore', () => {
  it('applies good resources, refuses a malformed one by name and keeps its last good version', () => {
    const store = new EnvoyConfigStore((_t, name, m) => ({ compiledFrom: name, m }));
    const seen: number[] = [];
    store.onChange((c) => seen.push(c.generation));
    expect(store.apply({ typeUrl: TYPE_URL.cluster, resources: [{ name: 'a', version: '1', bytes: encodeCluster('a') }], removed: [] }).errors).toEqual([]);
    const bad = store.apply({
      typeUrl: TYPE_URL.cluster,
      resources: [
        { name: 'a', version: '2', bytes: Uint8Array.of(0x0a, 0xff) }, // length runs past the end
        { name: 'b', version: '2', bytes: encodeCluster('b') },
      ],
      removed: [],
    });
    expect(bad.errors.map((e) => e.name)).toEqual(['a']);
    expect(store.get(TYPE_URL.cluster, 'a')?.version).toBe('1');
    expect(store.get<{ compiledFrom: string }>(TYPE_URL.cluster, 'b')?.compiled.compiledFrom).toBe('b');
    expect(seen).toEqual([1, 2]);
  });

  it('refuses a resource its compile hook throws on, and removes by name', () => {
    const store = new EnvoyConfigStore((_t, name) => {
      if (name === 'boom') throw new Error('regex does not compile');
      return name;
    });
    const r = store.apply({ typeUrl: TYPE_URL.cluster, resources: [{ name: 'boom', version: '1', bytes: encodeCluster('boom') }, { name: 'ok', version: '1', bytes: encodeCluster('ok') }], removed: [] });
    expect(r.errors).toEqual([{ name: 'boom', message: 'regex does not compile' }]);
    store.apply({ typeUrl: TYPE_URL.cluster, resources: [], removed: ['ok'] });
    expect(store.get(TYPE_URL.cluster, 'ok')).toBeUndefined();
    expect(store.summary()['Cluster']).toEqual([]);
  });

  it('refuses types an L7 proxy does not watch', () => {
    const store = new EnvoyConfigStore();
    expect(store.apply({ typeUrl: TYPE_URL.address, resources: [], removed: [] }).errors[0]?.message).toMatch(/not a type/);
  });
});
