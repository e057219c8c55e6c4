/**
 * Delta ADS against Weft's server: the raw protocol (only changed resources and removals, named
 * subscriptions, initial_resource_versions) and Weft's DeltaXdsClient (ACK, NACK through its
 * validator, reconnect with backoff telling the server what it holds).
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../core/xds/index.ts';
import { ControlMetrics } from '../../hosts/node/control/metrics.ts';
import { AdsServer, DeltaXdsClient } from '../../hosts/node/xds/index.ts';
import type { XdsUpdate } from '../../hosts/node/xds/index.ts';
import { buildSnapshot } from '../support/mesh-fixture.ts';
import type { BackendSpec } from '../support/mesh-fixture.ts';
import { eventually, istioAddress, openDelta, serveAdsForSuite, startXdsServer } from '../support/xds-streams.ts';
import type { DeltaDiscoveryResponse } from '../../core/xds/codec.ts';

const node = { id: 'ztunnel~10.0.0.5~node-a~weft-system.svc.cluster.local' };
const W = (name: string) => `Kubernetes//Pod/default/${name}`;
const mesh = (version: number, b: BackendSpec[] = [{ name: 'b-1', ip: '10.0.0.2' }, { name: 'b-2', ip: '10.0.0.3' }]) =>
  buildSnapshot(version, [
    { name: 'a', vip: '10.96.0.1', ports: [{ port: 80 }], backends: [{ name: 'a-1', ip: '10.0.0.1' }] },
    { name: 'b', vip: '10.96.0.2', ports: [{ port: 80 }], backends: b },
  ]);
const ALL = [W('a-1'), W('b-1'), W('b-2'), 'default/a.default.svc.cluster.local', 'default/b.default.svc.cluster.local'];
const resNames = (r: DeltaDiscoveryResponse) => r.resources.map((x) => x.name!).sort();

describe('delta ADS protocol', () => {
  const metrics = new ControlMetrics();
  const ads = new AdsServer({ metrics, debounceMs: 20 });
  const { open } = serveAdsForSuite(ads, () => mesh(1), openDelta);

  it('sends everything to a wildcard watch, then only the changed resource and removals', async () => {
    const s = open();
    s.send({ node, typeUrl: TYPE_URL.address });
    const r1 = await s.next();
    expect(r1.systemVersionInfo).toBe('1');
    expect(resNames(r1)).toEqual(ALL.slice().sort());
    expect(r1.resources.every((r) => r.version && r.resource!.typeUrl === TYPE_URL.address)).toBe(true);
    s.send({ typeUrl: TYPE_URL.address, responseNonce: r1.nonce });
    expect(await s.quiet(100)).toBe(true);

    // b-2 goes away and b-1 turns unhealthy: one changed workload, one removal, nothing else.
    ads.update(mesh(2, [{ name: 'b-1', ip: '10.0.0.2', healthy: false }]));
    const r2 = await s.next();
    expect(r2.systemVersionInfo).toBe('2');
    expect(resNames(r2)).toEqual([W('b-1')]);
    expect(istioAddress(r2.resources[0]!).workload!.status).toBe(1);
    expect(r2.removedResources).toEqual([W('b-2')]);
    s.send({ typeUrl: TYPE_URL.address, responseNonce: r2.nonce });

    // An identical snapshot sends nothing.
    ads.update(mesh(3, [{ name: 'b-1', ip: '10.0.0.2', healthy: false }]));
    expect(await s.quiet(200)).toBe(true);
    await eventually(() => expect(ads.syncz().find((e) => e.protocol === 'delta')!.types[TYPE_URL.address]).toMatchObject({ status: 'ACKED', ackedVersion: '2', resources: 4 }));
  });

  it('answers named subscriptions, says which names do not exist, and forgets unsubscribed ones', async () => {
    const s = open();
    s.send({ node, typeUrl: TYPE_URL.endpoint, resourceNamesSubscribe: ['outbound|80||a.default.svc.cluster.local', 'outbound|80||nope'] });
    const r1 = await s.next();
    expect(resNames(r1)).toEqual(['outbound|80||a.default.svc.cluster.local']);
    expect(r1.removedResources).toEqual(['outbound|80||nope']);
    s.send({ typeUrl: TYPE_URL.endpoint, responseNonce: r1.nonce, resourceNamesSubscribe: ['outbound|80||b.default.svc.cluster.local'] });
    const r2 = await s.next();
    expect(resNames(r2)).toEqual(['outbound|80||b.default.svc.cluster.local']);
    expect(r2.removedResources).toEqual([]);
    s.send({ typeUrl: TYPE_URL.endpoint, responseNonce: r2.nonce, resourceNamesUnsubscribe: ['outbound|80||a.default.svc.cluster.local'] });
    expect(await s.quiet(100)).toBe(true);
    // a's endpoints change: not watched any more, nothing is sent.
    ads.update(buildSnapshot(9, [{ name: 'a', ports: [{ port: 80 }], backends: [{ name: 'a-9', ip: '10.0.0.9' }] }, { name: 'b', ports: [{ port: 80 }], backends: [{ name: 'b-1', ip: '10.0.0.2', healthy: false }] }]));
    expect(await s.quiet(300)).toBe(true);
  });

  it('frames the full answer to new wildcard streams once: same bytes, same nonce, each ACKed on its own', async () => {
    ads.update(mesh(19));
    ads.flush();
    const [a, b] = [open(), open()];
    a.send({ node, typeUrl: TYPE_URL.address });
    b.send({ node, typeUrl: TYPE_URL.address });
    const [ra, rb] = [await a.next(), await b.next()];
    expect(ra.nonce).toBe(rb.nonce);
    expect(resNames(ra)).toEqual(resNames(rb));
    a.send({ typeUrl: TYPE_URL.address, responseNonce: ra.nonce });
    b.send({ typeUrl: TYPE_URL.address, responseNonce: rb.nonce, errorDetail: { code: 3, message: 'no thanks' } });
    await eventually(() => {
      const states = ads.syncz().filter((e) => e.protocol === 'delta').map((e) => e.types[TYPE_URL.address]?.status).filter(Boolean);
      expect(states.filter((x) => x === 'ACKED').length).toBeGreaterThanOrEqual(1);
      expect(states).toContain('NACKED');
    });
    // The next change reaches both, each with a nonce of its own, and only what changed.
    ads.update(mesh(20, [{ name: 'b-1', ip: '10.0.0.2' }, { name: 'b-2', ip: '10.0.0.4' }]));
    const [ca, cb] = [await a.next(), await b.next()];
    expect(resNames(ca)).toEqual([W('b-2')]);
    expect(resNames(cb)).toEqual([W('b-2')]);
    expect(ca.nonce).not.toBe(ra.nonce);
  });

  it('sends a large answer in parts, each ACKed on its own; the type is ACKED once every part is', async () => {
    const backends = Array.from({ length: 3000 }, (_, i) => ({ name: `big-${i}`, ip: `10.1.${i >> 8}.${i & 255}` }));
    ads.update(buildSnapshot(30, [{ name: 'big', ports: [{ port: 80 }], backends }]));
    ads.flush();
    const s = open();
    const id = 'ztunnel~10.0.0.9~node-parts~weft-system.svc.cluster.local';
    s.send({ node: { id }, typeUrl: TYPE_URL.address });
    const parts: DeltaDiscoveryResponse[] = [];
    for (let names = 0; names < 3001; ) {
      const r = await s.next();
      parts.push(r);
      names += r.resources.length;
    }
    expect(parts.length).toBeGreaterThan(1);
    expect(new Set(parts.map((p) => p.nonce)).size).toBe(parts.length);
    expect(new Set(parts.flatMap((p) => p.resources.map((r) => r.name))).size).toBe(3001);
    const status = () => ads.syncz().find((e) => e.node.id === id)!.types[TYPE_URL.address]!.status;
    for (const p of parts.slice(0, -1)) s.send({ typeUrl: TYPE_URL.address, responseNonce: p.nonce });
    expect(await s.quiet(100)).toBe(true);
    expect(status()).toBe('SENT');
    s.send({ typeUrl: TYPE_URL.address, responseNonce: parts.at(-1)!.nonce });
    await eventually(() => expect(status()).toBe('ACKED'));
    ads.update(mesh(31));
    ads.flush();
  });

  it('sends a reconnecting client only what differs from initial_resource_versions', async () => {
    const first = open();
    first.send({ node, typeUrl: TYPE_URL.address });
    const all = await first.next();
    const held = Object.fromEntries(all.resources.map((r) => [r.name!, r.version!]));
    const stale = all.resources[0]!.name!;
    held[stale] = 'old-version';
    held['Kubernetes//Pod/default/long-gone'] = 'x';
    const again = open();
    again.send({ node, typeUrl: TYPE_URL.address, initialResourceVersions: held });
    const r = await again.next();
    expect(resNames(r)).toEqual([stale]);
    expect(r.removedResources).toEqual(['Kubernetes//Pod/default/long-gone']);
  });
});

describe('DeltaXdsClient', () => {
  it('syncs, ACKs, NACKs through its validator, and resumes after a server restart with only the changes', async () => {
    const metrics = new ControlMetrics();
    let ads = new AdsServer({ metrics, debounceMs: 0 });
    ads.update(mesh(1));
    ads.flush();
    let { server, address, port } = await startXdsServer((s) => ads.addTo(s));
    const client = new DeltaXdsClient({
      address,
      node: { ...node, metadata: { NODE_NAME: 'node-a' } },
      subscriptions: [{ typeUrl: TYPE_URL.address }, { typeUrl: TYPE_URL.authorization }],
      backoff: { initialMs: 50, maxMs: 200 },
      // Refuse any workload whose address is 10.6.6.6.
      validate: (u) => (u.resources.some((r) => istioAddress(r).workload?.addresses?.some((a) => a.join('.') === '10.6.6.6')) ? 'bad address 10.6.6.6' : undefined),
    });
    const updates: XdsUpdate[] = [];
    client.on('update', (u: XdsUpdate) => updates.push(u));
    try {
      client.start();
      await once(client, 'connected');
      while (client.version(TYPE_URL.address) !== '1' || client.version(TYPE_URL.authorization) !== '1') await once(client, 'ack');
      expect([...client.resources(TYPE_URL.address).keys()].sort()).toEqual(ALL.slice().sort());
      const b1 = istioAddress(client.resources(TYPE_URL.address).get(W('b-1'))!);
      expect(b1.workload!.name).toBe('b-1');

      // A NACKed push: the client keeps its resources, the server shows the NACK and counts it.
      ads.update(mesh(2, [{ name: 'b-1', ip: '10.6.6.6' }]));
      const [nack] = await once(client, 'nack');
      expect(nack).toMatchObject({ typeUrl: TYPE_URL.address, version: '2', message: 'bad address 10.6.6.6' });
      expect(client.version(TYPE_URL.address)).toBe('1');
      expect(client.resources(TYPE_URL.address).has(W('b-2'))).toBe(true);
      await eventually(() =>
        expect(ads.syncz()[0]!.types[TYPE_URL.address]).toMatchObject({ status: 'NACKED', ackedVersion: '1', lastNack: { version: '2', message: 'bad address 10.6.6.6' } }),
      );
      expect(await metrics.registry.metrics()).toMatch(/pilot_total_xds_rejects\{type="wds"\} 1/);

      // The control plane restarts with b-2 gone: the client reconnects and gets only that removal.
      ads.close();
      server.forceShutdown();
      await once(client, 'disconnected');
      updates.length = 0;
      ads = new AdsServer({ debounceMs: 0 });
      ads.update(mesh(3, [{ name: 'b-1', ip: '10.0.0.2' }]));
      ads.flush();
      ({ server, address } = await startXdsServer((s) => ads.addTo(s), port));
      await once(client, 'connected');
      while (client.version(TYPE_URL.address) !== '3' || client.version(TYPE_URL.authorization) !== '3') await once(client, 'ack');
      const addressUpdates = updates.filter((u) => u.typeUrl === TYPE_URL.address);
      expect(addressUpdates.flatMap((u) => u.resources.map((r) => r.name))).toEqual([]);
      expect(addressUpdates.flatMap((u) => u.removed)).toEqual([W('b-2')]);
      expect([...client.resources(TYPE_URL.address).keys()].sort()).toEqual(ALL.filter((n) => n !== W('b-2')).sort());
      await eventually(() => expect(ads.syncz()[0]!.types[TYPE_URL.address]).toMatchObject({ status: 'ACKED', ackedVersion: '3' }));
    } finally {
      client.close();
      ads.close();
      server.forceShutdown();
    }
  });
});
