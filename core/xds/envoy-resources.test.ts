import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../../test/support/mesh-fixture.ts';
import { envoy } from './pb.ts';
import { EMBEDDED_TYPE_URL, TYPE_URL } from './type-urls.ts';
import { XdsTranslator } from './translate.ts';

const v3 = envoy.config;

describe('Envoy resources for proxyless gRPC', () => {
  const snap = buildSnapshot(1, [
    {
      name: 'echo',
      vip: '10.96.0.5',
      ports: [{ port: 7070, targetPort: 17070 }, { port: 53, protocol: 'UDP' }],
      backends: [
        { name: 'echo-a', ip: '127.0.0.1', locality: { region: 'r1', zone: 'z1', subzone: '' } },
        { name: 'echo-b', ip: '127.0.0.2', healthy: false, locality: { region: 'r1', zone: 'z1', subzone: '' } },
        { name: 'echo-c', ip: '127.0.0.3' },
        { name: 'echo-dns', ip: 'echo.example.com' },
      ],
    },
  ]);
  const res = new XdsTranslator().translate(snap).resources;
  const host = 'echo.default.svc.cluster.local';

  it('makes one listener, route, cluster and assignment per TCP port', () => {
    expect([...res.get(TYPE_URL.listener)!.keys()]).toEqual([`${host}:7070`]);
    expect([...res.get(TYPE_URL.route)!.keys()]).toEqual([`${host}:7070`]);
    expect([...res.get(TYPE_URL.cluster)!.keys()]).toEqual([`outbound|7070||${host}`]);
    expect([...res.get(TYPE_URL.endpoint)!.keys()]).toEqual([`outbound|7070||${host}`]);
  });

  it('makes an API listener whose HCM fetches its routes over ADS, router last with typed_config', () => {
    const l = v3.listener.v3.Listener.decode(res.get(TYPE_URL.listener)!.get(`${host}:7070`)!.bytes);
    const any = l.apiListener!.apiListener!;
    expect(any.typeUrl).toBe(EMBEDDED_TYPE_URL.httpConnectionManager);
    const hcm = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.decode(any.value!);
    expect(hcm.rds!.routeConfigName).toBe(`${host}:7070`);
    expect(hcm.rds!.configSource!.ads).toBeTruthy();
    expect(hcm.rds!.configSource!.resourceApiVersion).toBe(v3.core.v3.ApiVersion.V3);
    const last = hcm.httpFilters.at(-1)!;
    expect(last.name).toBe('envoy.filters.http.router');
    expect(last.typedConfig!.typeUrl).toBe(EMBEDDED_TYPE_URL.router);
  });

  it('routes every path of the service names to its cluster', () => {
    const rc = v3.route.v3.RouteConfiguration.decode(res.get(TYPE_URL.route)!.get(`${host}:7070`)!.bytes);
    const vh = rc.virtualHosts[0]!;
    expect(vh.domains).toEqual([host, `${host}:7070`, 'echo.default.svc', 'echo.default.svc:7070', 'echo.default', 'echo.default:7070', 'echo', 'echo:7070']);
    expect(vh.routes![0]!.match!.prefix).toBe('');
    expect(vh.routes![0]!.route!.cluster).toBe(`outbound|7070||${host}`);
  });

  it('makes an EDS cluster over ADS with round robin', () => {
    const c = v3.cluster.v3.Cluster.decode(res.get(TYPE_URL.cluster)!.get(`outbound|7070||${host}`)!.bytes);
    expect(c.type).toBe(v3.cluster.v3.Cluster.DiscoveryType.EDS);
    expect(c.edsClusterConfig!.edsConfig!.ads).toBeTruthy();
    expect(c.edsClusterConfig!.serviceName).toBe(`outbound|7070||${host}`);
    expect(c.lbPolicy).toBe(v3.cluster.v3.Cluster.LbPolicy.ROUND_ROBIN);
  });

  it('groups endpoints by locality, every locality weighted, IP literals only, health marked', () => {
    const cla = v3.endpoint.v3.ClusterLoadAssignment.decode(res.get(TYPE_URL.endpoint)!.get(`outbound|7070||${host}`)!.bytes);
    expect(cla.clusterName).toBe(`outbound|7070||${host}`);
    expect(cla.endpoints).toHaveLength(2);
    for (const group of cla.endpoints) {
      expect(group.locality).toBeTruthy();
      expect(group.loadBalancingWeight!.value).toBe(group.lbEndpoints!.length);
    }
    const flat = cla.endpoints.flatMap((g) => g.lbEndpoints!.map((e) => [e.endpoint!.address!.socketAddress!.address, e.endpoint!.address!.socketAddress!.portValue, e.healthStatus]));
    const H = v3.core.v3.HealthStatus;
    expect(flat).toEqual([
      ['127.0.0.1', 17070, H.HEALTHY],
      ['127.0.0.2', 17070, H.UNHEALTHY],
      ['127.0.0.3', 17070, H.HEALTHY],
    ]);
    expect(cla.endpoints[0]!.locality).toMatchObject({ region: 'r1', zone: 'z1' });
  });
});

describe('translation cache and versions', () => {
  it('reuses unchanged resources and versions only what changed', () => {
    const t = new XdsTranslator();
    const a = buildSnapshot(1, [
      { name: 'a', ports: [{ port: 80 }], backends: [{ name: 'a-1', ip: '10.0.0.1' }] },
      { name: 'b', ports: [{ port: 80 }], backends: [{ name: 'b-1', ip: '10.0.0.2' }, { name: 'b-2', ip: '10.0.0.3' }] },
    ]);
    const r1 = t.translate(a);
    // Same objects: the very same encoded resources.
    const r1again = t.translate({ ...a, version: 2 });
    expect(r1again.resources.get(TYPE_URL.endpoint)!.get('outbound|80||a.default.svc.cluster.local')).toBe(
      r1.resources.get(TYPE_URL.endpoint)!.get('outbound|80||a.default.svc.cluster.local'),
    );
    // A rebuilt snapshot with b-2 gone: equal content keeps its version, b's assignment changes.
    const b = buildSnapshot(3, [
      { name: 'a', ports: [{ port: 80 }], backends: [{ name: 'a-1', ip: '10.0.0.1' }] },
      { name: 'b', ports: [{ port: 80 }], backends: [{ name: 'b-1', ip: '10.0.0.2' }] },
    ]);
    const r2 = t.translate(b);
    const changed: string[] = [];
    for (const [type, byName] of r1.resources) {
      for (const [name, res] of byName) if (r2.resources.get(type)!.get(name)?.version !== res.version) changed.push(name);
    }
    expect(changed.sort()).toEqual(['Kubernetes//Pod/default/b-2', 'outbound|80||b.default.svc.cluster.local']);
  });
});
