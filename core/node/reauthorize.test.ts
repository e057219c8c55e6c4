import { describe, expect, it } from 'vitest';
import { authorizationPolicy } from '../../test/support/mesh-fixture.ts';
import { nodeSnapshot } from '../../test/support/node-mesh.ts';
import { XdsTranslator } from '../xds/translate.ts';
import { updatesFromResources } from './from-xds.ts';
import type { InboundRequest } from './plan-types.ts';
import { authorizationMayHaveChanged, revokedConnections, workloadAuthorizationChanged } from './reauthorize.ts';
import type { AdmittedConnection } from './reauthorize.ts';
import { NodeStateStore } from './store.ts';
import type { ConfigResource } from '../config/snapshot.ts';

const CLIENT = 'spiffe://cluster.local/ns/default/sa/client';
const OTHER = 'spiffe://cluster.local/ns/other/sa/x';
const REVIEWS_1 = 'Kubernetes//Pod/default/reviews-1';
const DB_1 = 'Kubernetes//Pod/default/db-1';

/** A store that receives each snapshot as delta xDS would: only changed and removed names. */
function deltaStore() {
  const store = new NodeStateStore({ nodeName: 'node-a' });
  const translator = new XdsTranslator();
  let before: ReturnType<XdsTranslator['translate']>['resources'] | undefined;
  return {
    store,
    push(policies: ConfigResource[], version: number) {
      const now = translator.translate(nodeSnapshot({ policies, version })).resources;
      const { errors } = store.apply(updatesFromResources(now, before));
      if (errors.length) throw new Error(JSON.stringify(errors));
      before = now;
      return store.current;
    },
  };
}

const conn = (workloadUid: string, over: Partial<InboundRequest> = {}): AdmittedConnection => ({
  workloadUid,
  request: { sourceIp: '10.0.0.1', destination: '10.0.0.11:8080', mtls: true, peerIdentity: CLIENT, ...over },
});
const denyPrincipal = (ns: string, name: string, principal: string, app = 'reviews') =>
  authorizationPolicy(ns, name, { selector: { matchLabels: { app } }, action: 'DENY', rules: [{ from: [{ source: { principals: [principal] } }] }] });

describe('revokedConnections', () => {
  it('returns the live connections a new DENY now matches, with the plan', () => {
    const d = deltaStore();
    const s1 = d.push([], 1);
    const client = conn(REVIEWS_1);
    const other = conn(REVIEWS_1, { peerIdentity: OTHER, sourceIp: '10.0.0.2' });
    const live = new Map([[REVIEWS_1, [client, other]]]);
    const s2 = d.push([denyPrincipal('default', 'deny-client', 'cluster.local/ns/default/sa/client')], 2);
    const revoked = revokedConnections(s1, s2, live);
    expect(revoked.map((r) => r.connection)).toEqual([client]);
    expect(revoked[0]!.plan).toMatchObject({ kind: 'deny', code: 'authz-denied', decision: { policy: 'default/deny-client' } });
  });

  it('uses the source address the connection was admitted with (ipBlocks)', () => {
    const d = deltaStore();
    const s1 = d.push([], 1);
    const forwardedClient = conn(REVIEWS_1, { sourceIp: '192.0.2.7' });
    const s2 = d.push([authorizationPolicy('default', 'deny-net', { selector: { matchLabels: { app: 'reviews' } }, action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['192.0.2.0/24'] } }] }] })], 2);
    expect(revokedConnections(s1, s2, new Map([[REVIEWS_1, [forwardedClient, conn(REVIEWS_1)]]])).map((r) => r.connection)).toEqual([forwardedClient]);
  });

  it('closes what a removed ALLOW no longer lets in, and keeps what still passes', () => {
    const d = deltaStore();
    const allowBoth = authorizationPolicy('default', 'allow', { selector: { matchLabels: { app: 'reviews' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/client', 'cluster.local/ns/other/sa/x'] } }] }] });
    const allowClient = authorizationPolicy('default', 'allow', { selector: { matchLabels: { app: 'reviews' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/client'] } }] }] });
    const s1 = d.push([allowBoth], 1);
    const other = conn(REVIEWS_1, { peerIdentity: OTHER });
    const s2 = d.push([allowClient], 2);
    expect(revokedConnections(s1, s2, new Map([[REVIEWS_1, [conn(REVIEWS_1), other]]])).map((r) => r.connection)).toEqual([other]);
  });

  it('re-evaluates only workloads whose policies changed', () => {
    const d = deltaStore();
    const s1 = d.push([], 1);
    // A DENY for the db workload only: reviews-1's connections are not looked at.
    const s2 = d.push([denyPrincipal('default', 'deny-db', 'cluster.local/ns/default/sa/client', 'db-1')], 2);
    expect(authorizationMayHaveChanged(s1, s2)).toBe(true);
    expect(workloadAuthorizationChanged(s1, s2, REVIEWS_1)).toBe(false);
    expect(workloadAuthorizationChanged(s1, s2, DB_1)).toBe(true);
    let looked = 0;
    const watched = { *[Symbol.iterator]() { looked++; yield conn(REVIEWS_1); } };
    const dbConn = conn(DB_1, { destination: '10.0.0.41:5432' });
    const revoked = revokedConnections(s1, s2, new Map<string, Iterable<AdmittedConnection>>([[REVIEWS_1, watched], [DB_1, [dbConn]]]));
    expect(looked).toBe(0);
    expect(revoked.map((r) => r.connection)).toEqual([dbConn]);
  });

  it('does nothing when the state shares its workload and policy indexes (a mesh settings change)', () => {
    const d = deltaStore();
    const s1 = d.push([], 1);
    const s2 = d.store.setMesh({ outboundPolicy: 'REGISTRY_ONLY' });
    expect(authorizationMayHaveChanged(s1, s2)).toBe(false);
    const never = { [Symbol.iterator]: () => { throw new Error('must not be read'); } };
    expect(revokedConnections(s1, s2, new Map([[REVIEWS_1, never as Iterable<AdmittedConnection>]]))).toEqual([]);
  });

  it('closes connections to a workload that left this node', () => {
    const d = deltaStore();
    const s1 = d.push([], 1);
    const s2 = d.store.apply({ typeUrl: 'type.googleapis.com/istio.workload.Address', resources: [], removed: [REVIEWS_1] }).state;
    expect(revokedConnections(s1, s2, new Map([[REVIEWS_1, [conn(REVIEWS_1)]]]))[0]?.plan.code).toBe('no-such-workload');
  });
});
