import { describe, expect, it } from 'vitest';
import { nodeSnapshot, nodeStore, peerAuthentication } from '../../test/support/node-mesh.ts';
import { planInbound } from '../node/plan.ts';
import { istio } from './pb.ts';
import { convertPeerAuthentication, peerAuthenticationKeys, staticStrictPolicy } from './peer-authentication.ts';
import type { PeerAuthenticationRef, PeerAuthenticationSpec } from './peer-authentication.ts';
import { TYPE_URL } from './type-urls.ts';
import { XdsTranslator } from './translate.ts';

const ROOT = 'istio-system';
const STATIC = 'istio-system/istio_converted_static_strict';
const pa = (namespace: string, name: string, spec: PeerAuthenticationSpec): PeerAuthenticationRef => ({ namespace, name, spec });
const mesh = (mode: string) => pa(ROOT, 'default', { mtls: { mode } });
const ns = (mode: string) => pa('default', 'ns', { mtls: { mode } });
const wl = (mode: string | undefined, ports: Record<string, string>) =>
  pa('default', 'wl', { selector: { matchLabels: { app: 'a' } }, ...(mode ? { mtls: { mode } } : {}), portLevelMtls: Object.fromEntries(Object.entries(ports).map(([p, m]) => [p, { mode: m }])) });

const NO_ID = { notPrincipals: [{ presence: {} }] };
/** The converted policy's rules, as lists of clause matches. */
const rulesOf = (a: ReturnType<typeof convertPeerAuthentication>) => a?.rules?.map((r) => r.clauses?.map((c) => c.matches));

describe('PeerAuthentication conversion (istiod ambient semantics)', () => {
  it.each<[string, PeerAuthenticationRef[], string[], unknown]>([
    ['nothing: no policy', [], [], undefined],
    ['mesh STRICT: the static policy', [mesh('STRICT')], [STATIC], undefined],
    ['mesh PERMISSIVE', [mesh('PERMISSIVE')], [], undefined],
    ['namespace STRICT', [ns('STRICT')], [STATIC], undefined],
    ['namespace PERMISSIVE overrides mesh STRICT', [mesh('STRICT'), ns('PERMISSIVE')], [], undefined],
    ['namespace UNSET inherits mesh STRICT', [mesh('STRICT'), ns('UNSET')], [STATIC], undefined],
    ['workload STRICT over namespace PERMISSIVE', [ns('PERMISSIVE'), pa('default', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' } })], [STATIC], undefined],
    ['workload PERMISSIVE over mesh STRICT', [mesh('STRICT'), pa('default', 'w', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'PERMISSIVE' } })], [], undefined],
    ['STRICT with a PERMISSIVE port: deny plaintext except on it', [wl('STRICT', { 9090: 'PERMISSIVE' })], ['default/converted_peer_authentication_wl'], [[[NO_ID], [{ notDestinationPorts: [9090] }]]]],
    ['STRICT with a DISABLE port: same as PERMISSIVE', [wl('STRICT', { 9090: 'DISABLE' })], ['default/converted_peer_authentication_wl'], [[[NO_ID], [{ notDestinationPorts: [9090] }]]]],
    ['STRICT with only STRICT ports: the static policy', [wl('STRICT', { 9090: 'STRICT' })], [STATIC], undefined],
    ['PERMISSIVE with a STRICT port: deny plaintext on it', [wl('PERMISSIVE', { 9090: 'STRICT', 80: 'PERMISSIVE' })], ['default/converted_peer_authentication_wl'], [[[{ ...NO_ID, destinationPorts: [9090] }]]]],
    ['UNSET under namespace STRICT with a PERMISSIVE port: STRICT merged in', [ns('STRICT'), wl(undefined, { 8080: 'PERMISSIVE', 9090: 'PERMISSIVE' })], ['default/converted_peer_authentication_wl'], [[[NO_ID], [{ notDestinationPorts: [8080] }], [{ notDestinationPorts: [9090] }]]]],
    ['UNSET under mesh STRICT (namespace UNSET) with a PERMISSIVE port', [mesh('STRICT'), ns('UNSET'), wl(undefined, { 8080: 'PERMISSIVE' })], ['default/converted_peer_authentication_wl'], [[[NO_ID], [{ notDestinationPorts: [8080] }]]]],
    ['UNSET under PERMISSIVE with a STRICT port', [mesh('PERMISSIVE'), wl(undefined, { 9090: 'STRICT' })], ['default/converted_peer_authentication_wl'], [[[{ ...NO_ID, destinationPorts: [9090] }]]]],
    ['UNSET under STRICT with a STRICT port: the static policy', [ns('STRICT'), wl(undefined, { 9090: 'STRICT' })], [STATIC], undefined],
  ])('%s', (_n, applicable, keys, rules) => {
    expect(peerAuthenticationKeys(ROOT, applicable)).toEqual(keys);
    const w = applicable.find((p) => p.spec.portLevelMtls);
    if (!w) return;
    const converted = convertPeerAuthentication(w, applicable.find((p) => p.namespace === 'default' && !p.spec.selector), applicable.find((p) => p.namespace === ROOT));
    expect(rulesOf(converted)).toEqual(rules);
    if (converted) expect(converted).toMatchObject({ name: 'converted_peer_authentication_wl', namespace: 'default', scope: istio.security.Scope.WORKLOAD_SELECTOR, action: istio.security.Action.DENY });
  });

  it('names the static policy as istiod does', () => {
    expect(staticStrictPolicy(ROOT)).toMatchObject({ name: 'istio_converted_static_strict', namespace: ROOT, action: istio.security.Action.DENY, scope: istio.security.Scope.WORKLOAD_SELECTOR });
  });
});

describe('PeerAuthentication through translation to the node proxy', () => {
  const pas = [
    peerAuthentication(ROOT, 'default', { mtls: { mode: 'STRICT' } }),
    peerAuthentication('default', 'reviews-v1', { selector: { matchLabels: { version: 'v1' } }, portLevelMtls: { 8080: { mode: 'PERMISSIVE' } } }),
    peerAuthentication(ROOT, 'ignored-selector', { selector: { matchLabels: { app: 'client' } }, mtls: { mode: 'PERMISSIVE' } }),
  ];
  const snapshot = nodeSnapshot({ peerAuthentications: pas });

  it('serves the derived policies and lists them on the workloads', () => {
    const out = new XdsTranslator().translate(snapshot).resources;
    expect([...out.get(TYPE_URL.authorization)!.keys()].sort()).toEqual(['default/converted_peer_authentication_reviews-v1', STATIC]);
    const policiesOf = (uid: string) => istio.workload.Address.decode(out.get(TYPE_URL.address)!.get(uid)!.bytes).workload?.authorizationPolicies;
    expect(policiesOf('Kubernetes//Pod/default/reviews-1')).toEqual(['default/converted_peer_authentication_reviews-v1']);
    expect(policiesOf('Kubernetes//Pod/default/db-1')).toEqual([STATIC]);
  });

  it('updates workload lists when only PeerAuthentication changes', () => {
    const t = new XdsTranslator();
    t.translate(snapshot);
    const next = t.translate({ ...snapshot, version: 2, resources: new Map([...snapshot.resources].filter(([k]) => k !== 'PeerAuthentication')) });
    expect([...next.changes!.byType.get(TYPE_URL.authorization)!.removed].sort()).toEqual(['default/converted_peer_authentication_reviews-v1', STATIC]);
    expect(next.changes!.byType.get(TYPE_URL.address)!.changed.has('Kubernetes//Pod/default/db-1')).toBe(true);
  });

  it.each([
    ['plaintext to a STRICT workload', '10.0.0.41:5432', false, false, /PeerAuthentication requires mTLS \(STRICT; policy istio-system\/istio_converted_static_strict\)/],
    ['mTLS to a STRICT workload', '10.0.0.41:5432', true, true, undefined],
    ['plaintext to the PERMISSIVE port', '10.0.0.11:8080', false, true, undefined],
    ['plaintext to another port of that workload', '10.0.0.11:9999', false, false, /converted_peer_authentication_reviews-v1/],
  ])('%s', (_n, destination, mtls, allowed, reason) => {
    const state = nodeStore(snapshot).current;
    const plan = planInbound(state, { sourceIp: '10.0.0.1', destination, mtls, ...(mtls ? { peerIdentity: 'spiffe://cluster.local/ns/default/sa/client' } : {}) });
    expect(plan.kind).toBe(allowed ? 'allow' : 'deny');
    if (reason && plan.kind === 'deny') expect(plan.reason).toMatch(reason);
  });
});
