/**
 * Per-proxy scoping (core/route/README.md "Who receives what"): a gateway-role ADS client receives the
 * listeners and route configurations of its own Gateway, not another gateway's; a client without a
 * role keeps the mesh-wide set; Secrets never go over the plaintext port.
 */
import { describe, expect, it } from 'vitest';
import { analyzeFiles } from '../../core/config/analyze.ts';
import { TYPE_URL, decodeResource, jsonToStruct } from '../../core/xds/index.ts';
import type { envoy } from '../../core/xds/pb.ts';
import { AdsServer } from '../../hosts/node/xds/index.ts';
import { openSotw, serveAdsForSuite } from '../support/xds-streams.ts';

const NS = 'edge';
const gw = (name: string, ip: string, host: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: ${NS} }
spec:
  gatewayClassName: weft
  addresses: [{ type: IPAddress, value: ${ip} }]
  listeners:
  - { name: http, port: 80, protocol: HTTP }
  - { name: https, port: 443, protocol: HTTPS, tls: { certificateRefs: [{ name: cert }] } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}-route, namespace: ${NS} }
spec:
  parentRefs: [{ name: ${name} }]
  hostnames: [${host}]
  rules: [{ backendRefs: [{ name: web, port: 8080 }] }]
`;
const yaml = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${NS} }
spec: { clusterIP: 10.96.0.5, ports: [{ name: http, port: 8080 }] }
---
apiVersion: v1
kind: Secret
metadata: { name: cert, namespace: ${NS} }
type: kubernetes.io/tls
data: { tls.crt: Y2VydA==, tls.key: a2V5 }
---
${gw('gw-a', '127.0.0.11', 'a.example.com')}---
${gw('gw-b', '127.0.0.12', 'b.example.com')}`;

const node = (metadata: Record<string, unknown>) => ({ id: 'router~127.0.0.11~gw-a.edge~edge.svc.cluster.local', metadata: jsonToStruct(metadata) });

describe('ADS scoping of gateway resources', () => {
  const ads = new AdsServer({ debounceMs: 5 });
  const suite = serveAdsForSuite(ads, () => analyzeFiles([{ path: 'gw.yaml', text: yaml }]).snapshot, (address) => openSotw(address));

  it('sends a gateway its own listeners and routes, not another gateway\'s', async () => {
    const s = suite.open();
    const md = { WEFT_ROLE: 'gateway', NAMESPACE: NS, NAME: 'gw-a', LABELS: { 'gateway.networking.k8s.io/gateway-name': 'gw-a' } };
    s.send({ node: node(md), typeUrl: TYPE_URL.listener, resourceNames: [] });
    const lds = await s.next();
    const names = lds.resources.map((r) => (decodeResource(TYPE_URL.listener, r.value!) as envoy.config.listener.v3.Listener).name);
    expect(names.sort()).toEqual(['127.0.0.11_443', '127.0.0.11_80']);
    // a Gateway bound to its own address has its own plain route configuration, http.<port>.<address>
    s.send({ node: node(md), typeUrl: TYPE_URL.route, resourceNames: ['http.80.127.0.0.11'] });
    const rds = await s.next();
    const rc = decodeResource(TYPE_URL.route, rds.resources[0]!.value!) as envoy.config.route.v3.RouteConfiguration;
    expect(rc.virtualHosts.map((v) => v.name)).toEqual(['a.example.com:80']);
    expect(rc.virtualHosts[0]!.routes![0]!.route!.cluster).toBe('outbound|8080||web.edge.svc.cluster.local');
    // 15010 is plaintext: the referenced Secret is not sent there.
    s.send({ node: node(md), typeUrl: TYPE_URL.secret, resourceNames: ['kubernetes://edge/cert'] });
    const sds = await s.next();
    expect(sds.resources).toHaveLength(0);
  });

  it('keeps the mesh-wide set for a client without a role', async () => {
    const s = suite.open();
    s.send({ node: { id: 'grpc-client' }, typeUrl: TYPE_URL.listener, resourceNames: [] });
    const lds = await s.next();
    const names = lds.resources.map((r) => (decodeResource(TYPE_URL.listener, r.value!) as envoy.config.listener.v3.Listener).name);
    expect(names).toEqual(['web.edge.svc.cluster.local:8080']);
  });
});

describe('ADS scoping on an authenticated port', () => {
  const ads = new AdsServer({ debounceMs: 5 });
  const suite = serveAdsForSuite(
    { ...ads, addTo: (server) => ads.addTo(server, { authenticate: () => ({ kind: 'gateway', name: 'edge/gw-b' }) }), update: (x) => ads.update(x), flush: () => ads.flush(), close: () => ads.close() },
    () => analyzeFiles([{ path: 'gw.yaml', text: yaml }]).snapshot,
    (address) => openSotw(address),
  );

  it('sends the Secrets the gateway\'s listeners reference', async () => {
    const s = suite.open();
    const md = { WEFT_ROLE: 'gateway', NAMESPACE: NS, NAME: 'gw-b', LABELS: { 'gateway.networking.k8s.io/gateway-name': 'gw-b' } };
    s.send({ node: node(md), typeUrl: TYPE_URL.secret, resourceNames: ['kubernetes://edge/cert'] });
    const sds = await s.next();
    const secret = decodeResource(TYPE_URL.secret, sds.resources[0]!.value!) as envoy.extensions.transport_sockets.tls.v3.Secret;
    expect(secret.name).toBe('kubernetes://edge/cert');
    expect(new TextDecoder().decode(secret.tlsCertificate!.privateKey!.inlineBytes!)).toBe('key');
  });
});
