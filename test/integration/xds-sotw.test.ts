/**
 * State-of-the-world ADS against Weft's server with raw grpc-js streams: versions and nonces, ACK,
 * NACK (last good version kept, visible in syncz and metrics), stale nonces ignored, wildcard rules,
 * pushes of changed resources only, debounce, authentication.
 */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { TYPE_URL, decodeResource } from '../../core/xds/index.ts';
import { ControlMetrics } from '../../hosts/node/control/metrics.ts';
import { AdsServer } from '../../hosts/node/xds/index.ts';
import { buildSnapshot } from '../support/mesh-fixture.ts';
import type { BackendSpec } from '../support/mesh-fixture.ts';
import { eventually, openSotw, serveAdsForSuite, startXdsServer } from '../support/xds-streams.ts';
import type { DiscoveryResponse } from '../../core/xds/codec.ts';

const node = { id: 'sidecar~10.0.0.9~tester.default~default.svc.cluster.local', cluster: 'test' };
const mesh = (version: number, bBackends: BackendSpec[] = [{ name: 'b-1', ip: '10.0.0.2' }, { name: 'b-2', ip: '10.0.0.3' }]) =>
  buildSnapshot(version, [
    { name: 'a', ports: [{ port: 80 }], backends: [{ name: 'a-1', ip: '10.0.0.1' }] },
    { name: 'b', ports: [{ port: 80 }], backends: bBackends },
  ]);
const A_CLUSTER = 'outbound|80||a.default.svc.cluster.local';
const B_CLUSTER = 'outbound|80||b.default.svc.cluster.local';
/** Names of the resources in a response (a ClusterLoadAssignment is named by its cluster). */
const names = (r: DiscoveryResponse): string[] =>
  r.resources.map((any) => {
    const m = decodeResource(any.typeUrl!, any.value!) as { name?: string; clusterName?: string };
    return m.name || m.clusterName || '';
  });

describe('SotW ADS', () => {
  const metrics = new ControlMetrics();
  const pushes: string[] = [];
  const ads = new AdsServer({ metrics, debounceMs: 40, onPush: (p) => pushes.push(p.version) });
  const { open } = serveAdsForSuite(ads, () => mesh(1), openSotw);

  it('answers the initial request; an ACK gets no answer; a stale nonce is ignored', async () => {
    const s = open();
    s.send({ node, typeUrl: TYPE_URL.cluster });
    const r1 = await s.next();
    expect(r1).toMatchObject({ versionInfo: '1', typeUrl: TYPE_URL.cluster });
    expect(r1.nonce).not.toBe('');
    expect(names(r1).sort()).toEqual([A_CLUSTER, B_CLUSTER]); // empty names: CDS wildcard
    s.send({ typeUrl: TYPE_URL.cluster, versionInfo: '1', responseNonce: r1.nonce });
    expect(await s.quiet()).toBe(true);
    // A request naming an old nonce (even with other names) is stale: no answer, no change.
    s.send({ typeUrl: TYPE_URL.cluster, versionInfo: '1', responseNonce: 'stale', resourceNames: [A_CLUSTER] });
    expect(await s.quiet()).toBe(true);
    // An ACK of the latest nonce with new names is answered with exactly those.
    s.send({ typeUrl: TYPE_URL.cluster, versionInfo: '1', responseNonce: r1.nonce, resourceNames: [A_CLUSTER] });
    const r2 = await s.next();
    expect(names(r2)).toEqual([A_CLUSTER]);
    expect(r2.nonce).not.toBe(r1.nonce);
  });

  it('treats empty names as a wildcard only for LDS/CDS, not RDS/EDS', async () => {
    const s = open();
    s.send({ node, typeUrl: TYPE_URL.endpoint });
    expect(await s.quiet()).toBe(true);
    s.send({ typeUrl: TYPE_URL.listener });
    expect(names(await s.next()).sort()).toEqual(['a.default.svc.cluster.local:80', 'b.default.svc.cluster.local:80']);
    s.send({ typeUrl: TYPE_URL.route, resourceNames: ['a.default.svc.cluster.local:80', 'missing:1'] });
    expect(names(await s.next())).toEqual(['a.default.svc.cluster.local:80']);
  });

  it('keeps the last good version on a NACK, counts it and shows it in syncz', async () => {
    const s = open();
    s.send({ node: { ...node, id: 'sidecar~10.0.0.10~nacker.default~default.svc.cluster.local' }, typeUrl: TYPE_URL.endpoint, resourceNames: [A_CLUSTER] });
    const r1 = await s.next();
    s.send({ typeUrl: TYPE_URL.endpoint, resourceNames: [A_CLUSTER, B_CLUSTER], versionInfo: '1', responseNonce: r1.nonce });
    const r2 = await s.next();
    expect(names(r2)).toEqual([A_CLUSTER, B_CLUSTER]);
    s.send({ typeUrl: TYPE_URL.endpoint, resourceNames: [A_CLUSTER, B_CLUSTER], versionInfo: '1', responseNonce: r2.nonce });
    // The next version is refused: the client repeats its last good version with an error.
    ads.update(mesh(2, [{ name: 'b-1', ip: '10.0.0.2' }]));
    ads.update(mesh(3, [{ name: 'a-1', ip: '10.0.0.1' }])); // within the debounce: only 3 is pushed
    const r3 = await s.next(3000);
    expect(r3.versionInfo).toBe('3'); // the debounced push, B's endpoints changed
    s.send({ typeUrl: TYPE_URL.endpoint, resourceNames: [A_CLUSTER, B_CLUSTER], versionInfo: '1', responseNonce: r3.nonce, errorDetail: { code: 3, message: 'endpoint rejected: test' } });
    expect(await s.quiet()).toBe(true); // a NACK with unchanged names is not answered
    await eventually(() =>
      expect(ads.syncz().find((e) => e.node.id.includes('nacker'))!.types[TYPE_URL.endpoint]).toMatchObject({
        status: 'NACKED',
        sentVersion: '3',
        ackedVersion: '1',
        lastNack: { version: '3', nonce: r3.nonce, message: 'endpoint rejected: test' },
      }),
    );
    expect(await metrics.registry.metrics()).toMatch(/pilot_total_xds_rejects\{type="eds"\} 1/);
  });

  it('pushes only types whose watched resources changed, debounced into one push', async () => {
    const s = open();
    s.send({ node, typeUrl: TYPE_URL.listener });
    const l1 = await s.next();
    s.send({ typeUrl: TYPE_URL.listener, versionInfo: l1.versionInfo, responseNonce: l1.nonce });
    s.send({ typeUrl: TYPE_URL.endpoint, resourceNames: [A_CLUSTER, B_CLUSTER] });
    const e1 = await s.next();
    s.send({ typeUrl: TYPE_URL.endpoint, resourceNames: [A_CLUSTER, B_CLUSTER], versionInfo: e1.versionInfo, responseNonce: e1.nonce });
    await s.quiet(100);
    const before = pushes.length;
    for (let v = 10; v < 15; v++) ads.update(mesh(v, [{ name: 'b-1', ip: `10.0.1.${v}` }]));
    const e2 = await s.next(2000);
    expect(e2).toMatchObject({ typeUrl: TYPE_URL.endpoint, versionInfo: '14' });
    // Every watched resource is in the response, changed or not.
    expect(names(e2)).toEqual([A_CLUSTER, B_CLUSTER]);
    expect(await s.quiet(200)).toBe(true); // listeners did not change: no LDS response
    expect(pushes.slice(before)).toEqual(['14']);
  });

  it('answers a stream that arrived before the first snapshot once it comes', async () => {
    const late = new AdsServer({ debounceMs: 0 });
    const { server: srv, address: addr } = await startXdsServer((x) => late.addTo(x));
    const s = openSotw(addr);
    s.send({ node, typeUrl: TYPE_URL.cluster });
    expect(await s.quiet(150)).toBe(true);
    late.update(mesh(5));
    expect((await s.next()).versionInfo).toBe('5');
    s.close();
    late.close();
    srv.forceShutdown();
  });
});

describe('ADS authentication', () => {
  it('checks each listener its own way: one refuses a bad token or a node its caller may not be, the other is open', async () => {
    // One AdsServer (one translation) on two gRPC servers, as 15012 (token) and 15010 (open).
    const ads = new AdsServer({ debounceMs: 0 });
    ads.update(mesh(1));
    ads.flush();
    const secure = await startXdsServer((s) =>
      ads.addTo(s, {
        authenticate: (call) => {
          const auth = String(call.metadata.get('authorization')[0] ?? '');
          return auth === 'Bearer good' ? { kind: 'node', name: 'node-a' } : new Error('a valid join token is required');
        },
        admitNode: (n, caller) => (n.metadata['NODE_NAME'] === caller?.name ? undefined : new Error(`token is for ${caller?.name}`)),
      }),
    );
    const open = await startXdsServer((s) => ads.addTo(s));
    const md = (token: string) => {
      const m = new grpc.Metadata();
      m.set('authorization', `Bearer ${token}`);
      return m;
    };
    const nodeMeta = (name: string) => ({ id: 'n', metadata: { fields: { NODE_NAME: { stringValue: name } } } });

    const bad = openSotw(secure.address, md('bad'));
    bad.send({ node: nodeMeta('node-a'), typeUrl: TYPE_URL.cluster });
    expect(await bad.status).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: 'a valid join token is required' });

    const other = openSotw(secure.address, md('good'));
    other.send({ node: nodeMeta('node-b'), typeUrl: TYPE_URL.cluster });
    expect(await other.status).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: 'token is for node-a' });

    const ok = openSotw(secure.address, md('good'));
    ok.send({ node: nodeMeta('node-a'), typeUrl: TYPE_URL.cluster });
    expect((await ok.next()).versionInfo).toBe('1');

    const anon = openSotw(open.address);
    anon.send({ node: nodeMeta('anyone'), typeUrl: TYPE_URL.cluster });
    expect((await anon.next()).versionInfo).toBe('1');
    expect(ads.syncz().map((e) => [e.caller, e.proxyType])).toEqual([
      [{ kind: 'node', name: 'node-a' }, 'node'],
      [undefined, 'unknown'],
    ]);
    for (const s of [bad, other, ok, anon]) s.close();
    ads.close();
    secure.server.forceShutdown();
    open.server.forceShutdown();
  });
});
