import { describe, expect, it } from 'vitest';
import { analyzeFiles } from './analyze.ts';
import { gatewayApiModel } from './gateway-api-status.ts';

const snap = (...docs: string[]) => analyzeFiles([{ path: 's.yaml', text: docs.join('---\n') }]).snapshot;
const NS = 'gateway-conformance-infra';
const gw = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: ${NS} }
spec:
  gatewayClassName: weft
  listeners:
  - { name: same, port: 80, protocol: HTTP, hostname: '*.example.com' }
  - { name: tcp, port: 9000, protocol: TCP }
`;
const svc = `apiVersion: v1
kind: Service
metadata: { name: infra-backend-v1, namespace: ${NS} }
spec: { clusterIP: 10.96.0.1, ports: [{ name: http, port: 8080 }] }
`;
const route = (name: string, ns: string, extra: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: ${ns} }
spec:
${extra}`;

describe('Gateway API status (v1.4)', () => {
  const model = gatewayApiModel(
    snap(
      gw,
      svc,
      route('ok', NS, `  parentRefs: [{ name: gw }]\n  hostnames: [a.example.com]\n  rules: [{ backendRefs: [{ name: infra-backend-v1, port: 8080 }] }]\n`),
      route('other-ns', 'default', `  parentRefs: [{ name: gw, namespace: ${NS} }]\n  rules: [{ backendRefs: [{ name: x, port: 8080 }] }]\n`),
      route('bad-host', NS, `  parentRefs: [{ name: gw }]\n  hostnames: [a.example.org]\n`),
      route('no-parent', NS, `  parentRefs: [{ name: gw, sectionName: nope }, { name: missing }]\n  rules: [{ backendRefs: [{ name: infra-backend-v1, namespace: default, port: 8080 }, { group: example.com, kind: Thing, name: t }] }]\n`),
    ),
  );
  const routeStatus = (name: string) => model.status.routes.find((r) => r.name === name)!.parents;
  const c = (conds: { type: string; status: string; reason: string }[], type: string) => {
    const x = conds.find((k) => k.type === type)!;
    return `${x.status}/${x.reason}`;
  };

  it('accepts the built-in class and reports Gateway and listener conditions', () => {
    expect(model.status.gatewayClasses.find((x) => x.name === 'weft')!.conditions[0]).toMatchObject({ type: 'Accepted', status: 'True' });
    const g = model.status.gateways[0]!;
    expect(c(g.conditions, 'Accepted')).toBe('True/ListenersNotValid');
    expect(c(g.conditions, 'Programmed')).toBe('True/Programmed');
    const [same, tcp] = g.listeners;
    expect(c(same!.conditions, 'Accepted')).toBe('True/Accepted');
    expect(c(same!.conditions, 'ResolvedRefs')).toBe('True/ResolvedRefs');
    expect(c(same!.conditions, 'Programmed')).toBe('True/Programmed');
    expect(same!.attachedRoutes).toBe(1);
    expect(same!.supportedKinds.map((k) => k.kind)).toEqual(['HTTPRoute', 'GRPCRoute']);
    expect(c(tcp!.conditions, 'Accepted')).toBe('False/UnsupportedProtocol');
  });

  it('gives each route parent Accepted and ResolvedRefs with upstream reasons', () => {
    expect(routeStatus('ok').map((p) => [c(p.conditions, 'Accepted'), c(p.conditions, 'ResolvedRefs')])).toEqual([['True/Accepted', 'True/ResolvedRefs']]);
    expect(c(routeStatus('other-ns')[0]!.conditions, 'Accepted')).toBe('False/NotAllowedByListeners');
    expect(c(routeStatus('other-ns')[0]!.conditions, 'ResolvedRefs')).toBe('False/BackendNotFound');
    expect(c(routeStatus('bad-host')[0]!.conditions, 'Accepted')).toBe('False/NoMatchingListenerHostname');
    const np = routeStatus('no-parent');
    expect(np.map((p) => c(p.conditions, 'Accepted'))).toEqual(['False/NoMatchingParent', 'False/NoMatchingParent']);
    expect(c(np[0]!.conditions, 'ResolvedRefs')).toBe('False/RefNotPermitted');
    expect(model.attachments.map((a) => [a.route.metadata.name, a.hostnames])).toEqual([['ok', ['a.example.com']]]);
  });

  it('reports InvalidKind for a backend kind Weft does not support', () => {
    const m = gatewayApiModel(snap(gw, route('k', NS, `  parentRefs: [{ name: gw }]\n  hostnames: [a.example.com]\n  rules: [{ backendRefs: [{ group: example.com, kind: Thing, name: t }] }]\n`)));
    expect(c(m.status.routes[0]!.parents[0]!.conditions, 'ResolvedRefs')).toBe('False/InvalidKind');
  });
});
