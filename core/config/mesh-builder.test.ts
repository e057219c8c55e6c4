import { describe, expect, it } from 'vitest';
import { ConfigStore } from './store.ts';
import { MeshBuilder, type BuiltMesh } from './mesh-builder.ts';
import { buildMesh, compareIssues } from './build-snapshot.ts';
import type { ListChanges, MeshSnapshot } from './snapshot.ts';
import { diffList } from './list-diff.ts';
import { RandomMesh } from '../../test/support/random-mesh.ts';

const plain = (b: BuiltMesh) =>
  JSON.parse(JSON.stringify({ namespaces: [...b.namespaces.values()], services: b.services, workloads: b.workloads, warnings: [...b.warnings].sort(compareIssues) }));

describe('MeshBuilder', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`builds incrementally what a full build makes (random edits, seed ${seed})`, () => {
      const mesh = new RandomMesh(seed);
      const store = new ConfigStore();
      const sink = store.sink('dir');
      const builder = new MeshBuilder();
      sink.replaceFiles(mesh.list);
      let previous: MeshSnapshot | undefined = store.snapshot;
      for (let step = 0; step < 80; step++) {
        const what = mesh.edit();
        sink.replaceFiles(mesh.list);
        const snap = store.snapshot;
        const fresh = buildMesh(snap.mesh, snap.resources);
        const label = `seed ${seed} step ${step}: ${what}`;
        // The builder alone, fed the Store's lists (unchanged kinds keep their list, as in production).
        const built = builder.build(snap.mesh, snap.resources);
        expect(plain(built), label).toEqual(plain(fresh));
        // What the build says it changed is what changed, object by object.
        for (const list of ['services', 'workloads'] as const) {
          const told = built.changes[list] as ListChanges<object>;
          const d = diffList<object>(told.before, built[list]);
          expect(new Set(told.removed), `${label} (${list} removed)`).toEqual(new Set(d.removed));
          expect(new Set(told.added), `${label} (${list} added)`).toEqual(new Set(d.added));
        }
        if (snap !== previous) {
          expect(snap.changes!.services.before, label).toBe(previous!.services);
          expect(snap.changes!.workloads.before, label).toBe(previous!.workloads);
        }
        previous = snap;
        // The Store's own incremental build.
        expect(plain({ ...fresh, namespaces: snap.namespaces, services: snap.services, workloads: snap.workloads }), label).toEqual(plain(fresh));
      }
    });
  }

  it('remakes only what a moved endpoint reaches, and shares everything else', () => {
    const svc = (i: number) => `apiVersion: v1\nkind: Service\nmetadata: {name: s${i}}\nspec:\n  selector: {app: s${i}}\n  ports: [{name: http, port: 80, targetPort: 8080}]\n`;
    const we = (s: number, e: number, ip: string) =>
      `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: s${s}-e${e}, labels: {app: s${s}, weft.io/node: n1}}\nspec: {address: ${ip}}\n`;
    const file = (s: number, moved?: string) => [svc(s), ...[0, 1, 2].map((e) => we(s, e, e === 1 && moved ? moved : `10.0.${s}.${e + 1}`))].join('---\n');
    const store = new ConfigStore();
    const sink = store.sink('dir');
    sink.replaceFiles([0, 1, 2].map((s) => ({ path: `s${s}.yaml`, text: file(s) })));
    const before: MeshSnapshot = store.snapshot;
    sink.replaceFiles([0, 1, 2].map((s) => ({ path: `s${s}.yaml`, text: file(s, s === 1 ? '10.9.9.9' : undefined) })));
    const after = store.snapshot;
    expect(after.version).toBe(before.version + 1);
    const newServices = after.services.filter((s, i) => s !== before.services[i]).map((s) => s.name);
    const newWorkloads = after.workloads.filter((w, i) => w !== before.workloads[i]).map((w) => w.name);
    expect(newServices).toEqual(['s1']);
    expect(newWorkloads).toEqual(['s1-e1']);
    expect(after.workloads.find((w) => w.name === 's1-e1')!.addresses).toEqual(['10.9.9.9']);
    // Kinds the change did not touch keep their list; the changed kind's list is patched.
    expect(after.resources.get('Service')).toBe(before.resources.get('Service'));
    expect(after.resources.get('WorkloadEntry')).not.toBe(before.resources.get('WorkloadEntry'));
    expect(after.resources.get('WorkloadEntry')!.filter((r, i) => r !== before.resources.get('WorkloadEntry')![i])).toHaveLength(1);
  });

  it('remakes the workloads of a service whose ports change', () => {
    const files = (target: number) => [
      { path: 's.yaml', text: `apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {app: s}\n  ports: [{name: http, port: 80, targetPort: ${target}}]\n` },
      { path: 'w.yaml', text: `apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w, labels: {app: s}}\nspec: {address: 10.0.0.1}\n---\napiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: other, labels: {app: x}}\nspec: {address: 10.0.0.2}\n` },
    ];
    const store = new ConfigStore();
    const sink = store.sink('dir');
    sink.replaceFiles(files(8080));
    const before = store.snapshot;
    sink.replaceFiles(files(9090));
    const after = store.snapshot;
    const w = (s: MeshSnapshot, name: string) => s.workloads.find((x) => x.name === name)!;
    expect(w(after, 'w')).not.toBe(w(before, 'w'));
    expect(w(after, 'other')).toBe(w(before, 'other'));
    expect(after.services[0]!.endpoints[0]!.ports).toEqual({ 80: 9090 });
  });
});
