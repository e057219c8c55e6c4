import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { analyzeFiles } from '../../../core/config/index.ts';
import { readConfigDir } from '../config/read-config-dir.ts';
import { applyWaypoint, deleteWaypoints, formatWaypointTable, listWaypoints } from './waypoint-commands.ts';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'weft-waypoint-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

const NAMESPACE_FILE = `# the demo namespace, written by hand
apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels:
    istio.io/dataplane-mode: ambient # enrolled in ambient
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: demo }
spec: { ports: [{ port: 80 }] }
`;

describe('weft waypoint apply/list/delete on a config directory', () => {
  it('writes the waypoint Gateway and labels the namespace in place, keeping comments and other documents', async () => {
    await writeFile(join(dir, 'demo.yaml'), NAMESPACE_FILE);
    const out = await applyWaypoint({ dir, namespace: 'demo', name: 'waypoint', forWhat: 'service', enrollNamespace: true, overwrite: false });
    expect(out[1]).toBe('namespace demo labeled with "istio.io/use-waypoint: waypoint"');
    const demo = await readFile(join(dir, 'demo.yaml'), 'utf8');
    expect(demo).toContain('# the demo namespace, written by hand');
    expect(demo).toContain('istio.io/dataplane-mode: ambient # enrolled in ambient');
    expect(demo).toContain('istio.io/use-waypoint: waypoint');
    expect(demo).toContain('kind: Service');
    const gw = await readFile(join(dir, 'waypoint-demo-waypoint.yaml'), 'utf8');
    // the directory still validates as Weft reads it, and the snapshot sees the enrolment
    const { snapshot, errors } = analyzeFiles((await readConfigDir(dir)).files);
    expect(errors).toEqual([]);
    expect(snapshot.namespaces.get('demo')?.labels['istio.io/use-waypoint']).toBe('waypoint');
    expect(snapshot.services.find((s) => s.name === 'echo')?.waypoint).toEqual({ namespace: 'demo', name: 'waypoint' });
    expect(gw).toMatch(/gatewayClassName: istio-waypoint/);
    expect(gw).toMatch(/protocol: HBONE/);
    expect(gw).toMatch(/istio.io\/waypoint-for: service/);
  });

  it('labels a namespace that has no file of its own by writing one', async () => {
    await applyWaypoint({ dir, namespace: 'shop', name: 'wp', forWhat: 'all', enrollNamespace: true, overwrite: false });
    expect((await readdir(dir)).sort()).toEqual(['namespace-shop.yaml', 'waypoint-shop-wp.yaml']);
    const { rows } = await listWaypoints(dir);
    expect(rows).toEqual([{ namespace: 'shop', name: 'wp', forWhat: 'all', usedBy: ['namespace/shop'], file: 'waypoint-shop-wp.yaml' }]);
    expect(formatWaypointTable(rows)).toMatch(/^NAMESPACE\s+NAME\s+FOR\s+USED BY\s+FILE\nshop\s+wp\s+all\s+namespace\/shop\s+waypoint-shop-wp.yaml$/);
  });

  it('is idempotent, refuses to change --for without --overwrite, and refuses a non-waypoint Gateway of that name', async () => {
    await applyWaypoint({ dir, namespace: 'demo', name: 'waypoint', forWhat: 'service', enrollNamespace: false, overwrite: false });
    await applyWaypoint({ dir, namespace: 'demo', name: 'waypoint', forWhat: 'service', enrollNamespace: false, overwrite: false });
    expect((await listWaypoints(dir)).rows).toHaveLength(1);
    await expect(applyWaypoint({ dir, namespace: 'demo', name: 'waypoint', forWhat: 'workload', enrollNamespace: false, overwrite: false })).rejects.toThrow(/--overwrite/);
    await applyWaypoint({ dir, namespace: 'demo', name: 'waypoint', forWhat: 'workload', enrollNamespace: false, overwrite: true });
    expect((await listWaypoints(dir)).rows[0]?.forWhat).toBe('workload');
    await writeFile(join(dir, 'ingress.yaml'), 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: { name: public, namespace: demo }\nspec: { gatewayClassName: istio, listeners: [{ name: http, port: 80, protocol: HTTP }] }\n');
    await expect(applyWaypoint({ dir, namespace: 'demo', name: 'public', forWhat: 'service', enrollNamespace: false, overwrite: false })).rejects.toThrow(/ingress.yaml: Gateway demo\/public exists and is not a waypoint/);
  });

  it('deletes a waypoint, removes a file left empty, and warns about labels still naming it', async () => {
    await writeFile(join(dir, 'demo.yaml'), NAMESPACE_FILE);
    await applyWaypoint({ dir, namespace: 'demo', name: 'waypoint', forWhat: 'service', enrollNamespace: true, overwrite: false });
    const out = await deleteWaypoints({ dir, namespace: 'demo', names: ['waypoint'], all: false });
    expect(out[0]).toBe('waypoint demo/waypoint deleted');
    expect(out[1]).toMatch(/^warning: namespace demo \(demo.yaml\) still has istio.io\/use-waypoint=waypoint/);
    expect(await readdir(dir)).toEqual(['demo.yaml']);
    await expect(deleteWaypoints({ dir, namespace: 'demo', names: ['nope'], all: false })).rejects.toThrow(/no waypoint demo\/nope/);
  });

  it('never rewrites a file that does not parse, and says so in list', async () => {
    await writeFile(join(dir, 'broken.yaml'), 'kind: Namespace\nmetadata: { name: demo\n');
    await applyWaypoint({ dir, namespace: 'demo', name: 'waypoint', forWhat: 'service', enrollNamespace: true, overwrite: false });
    expect(await readFile(join(dir, 'broken.yaml'), 'utf8')).toBe('kind: Namespace\nmetadata: { name: demo\n');
    expect((await listWaypoints(dir)).broken).toEqual(['broken.yaml']);
  });
});
