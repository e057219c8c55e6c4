import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { analyzeFiles } from '../../../core/config/index.ts';
import { readConfigDir } from '../config/read-config-dir.ts';
import { applyWaypoint, deleteWaypoints } from './waypoint-commands.ts';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'weft-waypoint-address-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

const apply = (address: string) => applyWaypoint({ dir, namespace: 'demo', name: 'wp', forWhat: 'service', enrollNamespace: false, overwrite: false, address });

describe('weft waypoint apply --address', () => {
  it("writes the waypoint's WorkloadEntry and Service beside its Gateway, and a second apply moves the address in place", async () => {
    const out = await apply('127.0.0.9');
    expect(out[1]).toBe('waypoint demo/wp is reached at 127.0.0.9:15008 (WorkloadEntry and Service demo/wp)');
    expect((await readdir(dir)).sort()).toEqual(['waypoint-demo-wp-address.yaml', 'waypoint-demo-wp.yaml']);
    await writeFile(join(dir, 'echo.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: { name: echo, namespace: demo, labels: { istio.io/use-waypoint: wp } }\nspec: { clusterIP: 10.0.0.5, ports: [{ port: 80 }] }\n');
    const { snapshot, errors } = analyzeFiles((await readConfigDir(dir)).files);
    expect(errors).toEqual([]);
    expect(snapshot.services.find((s) => s.name === 'echo')?.waypoint).toEqual({ namespace: 'demo', name: 'wp' });
    const wpService = snapshot.services.find((s) => s.name === 'wp');
    // the waypoint's own service does not go through a waypoint, and its endpoint is the waypoint at its address
    expect(wpService?.waypoint).toBeUndefined();
    expect(wpService?.endpoints.map((e) => e.address)).toEqual(['127.0.0.9']);
    const w = [...snapshot.workloads.values()].find((x) => x.name === 'wp');
    expect(w).toMatchObject({ addresses: ['127.0.0.9'], identity: 'spiffe://cluster.local/ns/demo/sa/wp' });
    await apply('127.0.0.10');
    const text = await readFile(join(dir, 'waypoint-demo-wp-address.yaml'), 'utf8');
    expect(text).toContain('address: 127.0.0.10');
    expect(text).not.toContain('127.0.0.9');
  });

  it("refuses to take over a WorkloadEntry of that name that is not the waypoint's", async () => {
    await writeFile(join(dir, 'we.yaml'), 'apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: { name: wp, namespace: demo }\nspec: { address: 10.0.0.1 }\n');
    await expect(apply('127.0.0.9')).rejects.toThrow(/we.yaml: WorkloadEntry demo\/wp exists and is not this waypoint's/);
  });

  it('deletes the WorkloadEntry and Service with the waypoint', async () => {
    await apply('127.0.0.9');
    expect(await deleteWaypoints({ dir, namespace: 'demo', names: ['wp'], all: false })).toEqual(['waypoint demo/wp deleted']);
    expect(await readdir(dir)).toEqual([]);
  });
});
