import { describe, expect, it } from 'vitest';
import { ConfigStore } from '../config/store.ts';
import { RandomMesh } from '../../test/support/random-mesh.ts';
import { LayeredMap } from './layered-map.ts';
import { XdsTranslator, type XdsResources } from './translate.ts';

const versions = (r: XdsResources) => Object.fromEntries([...r.resources].map(([type, byName]) => [type, Object.fromEntries([...byName].map(([n, e]) => [n, e.version]))]));

describe('XdsTranslator, incremental', () => {
  for (const seed of [11, 12, 13, 14, 15, 16]) {
    it(`translates incrementally what a fresh translator makes, with the right changes (seed ${seed})`, () => {
      const mesh = new RandomMesh(seed);
      const store = new ConfigStore();
      const sink = store.sink('dir');
      sink.replaceFiles(mesh.list);
      const t = new XdsTranslator();
      let before = versions(t.translate(store.snapshot));
      for (let step = 0; step < 80; step++) {
        const what = mesh.edit();
        sink.replaceFiles(mesh.list);
        const label = `seed ${seed} step ${step}: ${what}`;
        const got = t.translate(store.snapshot);
        const fresh = versions(new XdsTranslator().translate(store.snapshot));
        expect(versions(got), label).toEqual(fresh);
        const expected: Record<string, { changed: string[]; removed: string[] }> = {};
        const actual: typeof expected = {};
        for (const [type, now] of Object.entries(fresh)) {
          const then = before[type] ?? {};
          expected[type] = {
            changed: Object.keys(now).filter((n) => then[n] !== now[n]).sort(),
            removed: Object.keys(then).filter((n) => !(n in now)).sort(),
          };
          const c = got.changes!.byType.get(type)!;
          actual[type] = { changed: [...c.changed].sort(), removed: [...c.removed].sort() };
        }
        expect(actual, label).toEqual(expected);
        before = fresh;
      }
    });
  }

  it('re-encodes only what a moved endpoint reaches', () => {
    const svc = `apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: s}\n  ports: [{name: http, port: 80, targetPort: 8080}]\n`;
    const we = (e: number, ip: string) => `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: e${e}, labels: {app: s, weft.io/node: n1}}\nspec: {address: ${ip}}\n`;
    const files = (moved: string) => [{ path: 's.yaml', text: [svc, we(0, '10.0.0.1'), we(1, moved), we(2, '10.0.0.3')].join('---\n') }];
    const store = new ConfigStore();
    const sink = store.sink('dir');
    sink.replaceFiles(files('10.0.0.2'));
    const t = new XdsTranslator();
    const r1 = t.translate(store.snapshot);
    sink.replaceFiles(files('10.0.9.9'));
    const r2 = t.translate(store.snapshot);
    const changed = [...r2.changes!.byType].flatMap(([, c]) => [...c.changed]).sort();
    // The moved workload's Address and the service's endpoints; the service's Address did not change.
    expect(changed).toEqual(['Kubernetes/networking.istio.io/WorkloadEntry/default/e1', 'outbound|80||s.default.svc.cluster.local']);
    for (const [type, byName] of r1.resources) {
      for (const [name, res] of byName) if (!changed.includes(name)) expect(r2.resources.get(type)!.get(name), name).toBe(res);
    }
  });
});

describe('LayeredMap', () => {
  it('reads through its overlay, flattens, and never changes a published version', () => {
    let m = new LayeredMap<number>(new Map(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])));
    const versionsSeen: LayeredMap<number>[] = [m];
    for (let i = 0; i < 300; i++) {
      const changes = new Map<string, number | undefined>([[`k${i % 150}`, i % 7 === 0 ? undefined : 1000 + i]]);
      m = m.with(changes);
      versionsSeen.push(m);
    }
    const plain = new Map<string, number>(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    const replay: Map<string, number>[] = [new Map(plain)];
    for (let i = 0; i < 300; i++) {
      if (i % 7 === 0) plain.delete(`k${i % 150}`);
      else plain.set(`k${i % 150}`, 1000 + i);
      replay.push(new Map(plain));
    }
    versionsSeen.forEach((v, i) => {
      const want = replay[i]!;
      expect(v.size).toBe(want.size);
      expect(new Map(v)).toEqual(want);
      for (const k of ['k0', 'k7', 'k120', 'nope']) expect(v.get(k)).toBe(want.get(k));
    });
  });
});
