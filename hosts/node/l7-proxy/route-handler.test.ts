// @ts-nocheck -- plain proto-shaped objects and small fakes of the engine's exchange and pools.
import { describe, expect, it } from 'vitest';
import { compileRoutes } from '../../../core/route/index.ts';
import { HttpMetrics } from '../../../core/telemetry/index.ts';
import { MirrorRequest, mirroredFields, shadowAuthority } from './mirror.ts';
import { compileFakeClusters, fakeCluster as cluster, fakeExchange, fakeHead as head, fakePools, fakeRouteHandler } from './route-handler.test-support.ts';

describe('request mirroring (request_mirror_policies)', () => {
  it("appends -shadow to the host, before a port (Envoy's shadow authority)", () => {
    expect(shadowAuthority('example.com')).toBe('example.com-shadow');
    expect(shadowAuthority('example.com:8080')).toBe('example.com-shadow:8080');
    expect(shadowAuthority('[::1]:80')).toBe('[::1]-shadow:80');
    expect(shadowAuthority('[::1]')).toBe('[::1]-shadow');
  });

  it('copies the forwarded fields: hop-by-hop and Connection-named ones dropped, the mutation applied', () => {
    const h = head({ headers: ['connection', 'x-hop', 'x-hop', '1', 'x-header-remove', 'r', 'x-header-add', 'a0', 'x-keep', 'k', 'keep-alive', '5'] });
    const f = mirroredFields(h, { set: ['x-header-set', 's'], add: ['x-header-add', 'a1'], remove: ['x-header-remove'] });
    expect(f).toEqual(['x-header-add', 'a0', 'x-keep', 'k', 'x-header-set', 's', 'x-header-add', 'a1']);
  });

  it('sends a bodiless copy of the forwarded request to the mirror cluster and forwards the original', () => {
    const a = cluster('outbound|8080||v1.ns.svc.cluster.local', '10.0.0.1');
    const b = cluster('outbound|8080||v2.ns.svc.cluster.local', '10.0.0.2');
    const clusters = compileFakeClusters(a, b);
    const table = compileRoutes({
      name: 'http.80',
      virtualHosts: [
        {
          name: 'vh',
          domains: ['*'],
          routes: [
            {
              match: { prefix: '/' },
              requestHeadersToAdd: [{ header: { key: 'x-header-set', value: 'set' }, appendAction: 2 }],
              route: { cluster: a.cluster.name, prefixRewrite: '/rewritten', requestMirrorPolicies: [{ cluster: b.cluster.name }] },
            },
          ],
        },
      ],
    });
    const started: { pool: string; req: MirrorRequest }[] = [];
    const forwarded: { pool: string; options: unknown }[] = [];
    const handler = fakeRouteHandler(table, clusters, { pools: fakePools((req, ep) => started.push({ pool: ep.key, req })) });
    const ex = (h) => fakeExchange(h, { forward: (up, options) => forwarded.push({ pool: up.name, options }) });

    handler.request(ex(head({ headers: ['x-a', '1'] })));
    expect(forwarded.map((f) => f.pool)).toEqual(['10.0.0.1:3000']);
    expect(started).toHaveLength(1);
    const m = started[0]!;
    expect(m.pool).toBe('10.0.0.2:3000');
    expect(m.req).toBeInstanceOf(MirrorRequest);
    expect([m.req.method, m.req.target, m.req.authority]).toEqual(['GET', '/rewrittenmirror', 'gw.example-shadow:8080']);
    expect(m.req.fields).toContain('x-header-set');
    expect(m.req.fields[m.req.fields.indexOf('x-header-set') + 1]).toBe('set');
    // its body is empty and its answer is swallowed
    let ended = false;
    m.req.startBody({ bodyData: () => true, bodyEnd: () => (ended = true) }, false);
    expect(ended).toBe(true);
    expect(m.req.responseHead(200, [], 1, 5)).toBe(true);
    expect(m.req.responseData(Buffer.from('hello'))).toBe(true);

    // a request with a body is forwarded but not mirrored (teeing a body needs an engine hook)
    handler.request(ex(head({ method: 'POST', hasBody: true })));
    expect(forwarded).toHaveLength(2);
    expect(started).toHaveLength(1);
  });
});

describe('CORS on forwarded requests', () => {
  it('adds allow-origin, allow-credentials and expose-headers to the response of a request from an allowed origin', async () => {
    const { envoy } = await import('../../../core/xds/pb.ts');
    const a = cluster('outbound|8080||v1.ns.svc.cluster.local', '10.0.0.1');
    const clusters = compileFakeClusters(a);
    const policy = envoy.extensions.filters.http.cors.v3.CorsPolicy.encode({ allowOriginStringMatch: [{ exact: 'https://app.example.com' }], exposeHeaders: 'x-exposed', allowCredentials: { value: true } }).finish();
    const wrapped = envoy.config.route.v3.FilterConfig.encode({ config: { typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy', value: policy }, isOptional: true }).finish();
    const table = compileRoutes({
      name: 'http.80',
      virtualHosts: [
        {
          name: 'vh',
          domains: ['*'],
          routes: [
            {
              match: { prefix: '/' },
              responseHeadersToAdd: [{ header: { key: 'x-route', value: 'r' }, appendAction: 2 }],
              typedPerFilterConfig: { 'envoy.filters.http.cors': { typeUrl: 'type.googleapis.com/envoy.config.route.v3.FilterConfig', value: wrapped } },
              route: { cluster: a.cluster.name },
            },
          ],
        },
      ],
    });
    const forwarded = [];
    const handler = fakeRouteHandler(table, clusters);
    const ex = (h) => fakeExchange(h, { forward: (up, options) => forwarded.push(options) });
    handler.request(ex(head({ target: '/', headers: ['origin', 'https://app.example.com'] })));
    handler.request(ex(head({ target: '/', headers: ['origin', 'https://evil.example'] })));
    handler.request(ex(head({ target: '/' })));
    const [allowed, other, none] = forwarded.map((o) => o.response.set);
    expect(allowed).toEqual(['x-route', 'r', 'access-control-allow-origin', 'https://app.example.com', 'access-control-allow-credentials', 'true', 'access-control-expose-headers', 'x-exposed']);
    expect(other).toEqual(['x-route', 'r']);
    expect(none).toEqual(['x-route', 'r']);
    // the route's cached response mutation is not changed by a CORS request
    handler.request(ex(head({ target: '/' })));
    expect(forwarded[3].response.set).toEqual(['x-route', 'r']);
  });
});

describe('the waypoint role: the request peer is the source', () => {
  it('labels metrics and access-log lines with the peer (principal, workload from baggage) and takes pools by the request', () => {
    const a = cluster('outbound|80||echo.ns.svc.cluster.local', '10.0.0.1');
    const clusters = compileFakeClusters(a);
    const table = compileRoutes({ name: 'echo.ns.svc.cluster.local:80', virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: a.cluster.name } }] }] });
    const metrics = new HttpMetrics();
    const lines: string[] = [];
    const asked: string[] = [];
    const handler = fakeRouteHandler(table, clusters, {
      routeConfigName: 'echo.ns.svc.cluster.local:80',
      pools: { get: (c, ep, h) => (asked.push(h.remoteAddress), fakePools().get(c, ep)) },
      metrics,
      self: { reporter: 'waypoint', workload: 'waypoint', namespace: 'ns', principal: 'spiffe://cluster.local/ns/ns/sa/waypoint' },
      accessLog: (l) => lines.push(l),
    });
    const peers = [
      { address: '10.1.0.1', port: 1, peerPrincipal: 'spiffe://cluster.local/ns/ns/sa/client', workload: 'client-1', namespace: 'ns' },
      { address: '10.1.0.2', port: 2, peerPrincipal: 'spiffe://cluster.local/ns/other/sa/other', workload: 'other-1', namespace: 'other' },
    ];
    for (const [i, p] of peers.entries()) {
      const h = { ...head({ target: '/' }), remoteAddress: p.address, remotePort: p.port, peer: p, peerPrincipal: p.peerPrincipal };
      const ex = fakeExchange(h);
      handler.request(ex);
      handler.end(ex, { status: i === 0 ? 200 : 403, requestBytes: 0, responseBytes: 0, failure: 'none', attempts: 1 });
    }
    expect(asked).toEqual(['10.1.0.1', '10.1.0.2']);
    const text = metrics.render();
    const series = text.split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    expect(series.find((l) => l.includes('response_code="200"'))).toMatch(/reporter="waypoint".*source_workload="client-1".*source_workload_namespace="ns".*source_principal="spiffe:\/\/cluster.local\/ns\/ns\/sa\/client"/);
    expect(series.find((l) => l.includes('response_code="403"'))).toMatch(/source_workload="other-1".*source_workload_namespace="other".*source_principal="spiffe:\/\/cluster.local\/ns\/other\/sa\/other"/);
    expect(JSON.parse(lines[1]!)).toMatchObject({ reporter: 'waypoint', source_principal: 'spiffe://cluster.local/ns/other/sa/other', source_workload: 'other-1', downstream_remote_address: '10.1.0.2:2', response_code: 403 });
  });
});
