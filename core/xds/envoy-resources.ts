/**
 * MeshSnapshot services -> the Envoy v3 resources a proxyless gRPC client (grpc-js-xds) and Weft's
 * L7 proxies read: per service port an API Listener `<hostname>:<port>` whose HTTP connection
 * manager fetches the RouteConfiguration of the same name over ADS, one route to the Cluster
 * `outbound|<port>||<hostname>` (EDS over ADS, round robin), and its ClusterLoadAssignment.
 * The shapes are the ones measured as accepted in shared/reference/xds-grpc-interop.md: Router
 * filter last and with typed_config, every locality with a load_balancing_weight, IP literals only.
 */
import type { MeshSettings, ServiceInfo, ServicePortInfo, WorkloadInfo } from '../config/snapshot.ts';
import { isIP } from '../net/ip.ts';
import { envoy } from './pb.ts';
import type { ClusterLoadAssignmentProto, ClusterProto, HttpConnectionManagerProto, ListenerProto, RouteConfigurationProto } from './pb.ts';
import { EMBEDDED_TYPE_URL } from './type-urls.ts';
import { resolveTargetPort } from './workload-api.ts';

const ADS_SOURCE = { ads: {}, resourceApiVersion: envoy.config.core.v3.ApiVersion.V3 };

/** Envoy's cluster name for a service port, as istiod names outbound clusters. */
export function clusterName(hostname: string, port: number): string {
  return `outbound|${port}||${hostname}`;
}

/** The listener (and route configuration) name: the `xds:///` target a gRPC client dials. */
export function listenerName(hostname: string, port: number): string {
  return `${hostname}:${port}`;
}

/** Ports that carry TCP; proxyless clients get nothing for UDP or SCTP ports. */
export function tcpPorts(svc: ServiceInfo): ServicePortInfo[] {
  return svc.ports.filter((p) => p.protocol === 'TCP');
}

export function apiListener(svc: ServiceInfo, port: number): ListenerProto {
  const name = listenerName(svc.hostname, port);
  const hcm: HttpConnectionManagerProto = {
    statPrefix: name,
    rds: { configSource: ADS_SOURCE, routeConfigName: name },
    // grpc-js-xds crashes on a filter without typed_config and NACKs a router that is not last.
    httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { typeUrl: EMBEDDED_TYPE_URL.router, value: new Uint8Array(0) } }],
  };
  const hcmBytes = envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.encode(hcm).finish();
  return { name, apiListener: { apiListener: { typeUrl: EMBEDDED_TYPE_URL.httpConnectionManager, value: hcmBytes } } };
}

export function routeConfiguration(svc: ServiceInfo, port: number, mesh: MeshSettings): RouteConfigurationProto {
  const name = listenerName(svc.hostname, port);
  return {
    name,
    virtualHosts: [
      {
        name,
        domains: virtualHostDomains(svc, port, mesh),
        routes: [{ match: { prefix: '' }, route: { cluster: clusterName(svc.hostname, port) } }],
      },
    ],
  };
}

/**
 * The names a client may dial the service by (the channel authority selects the virtual host):
 * the hostname and, for a Kubernetes Service, its shorter forms (`name.ns.svc`, `name.ns`, `name`),
 * each bare and with `:port`, as istiod's virtual host domains.
 */
export function virtualHostDomains(svc: ServiceInfo, port: number, mesh: MeshSettings): string[] {
  const hosts = [svc.hostname];
  if (svc.source === 'Service' && svc.hostname === `${svc.name}.${svc.namespace}.svc.${mesh.domainSuffix}`) {
    hosts.push(`${svc.name}.${svc.namespace}.svc`, `${svc.name}.${svc.namespace}`, svc.name);
  }
  return hosts.flatMap((h) => [h, `${h}:${port}`]);
}

export function edsCluster(svc: ServiceInfo, port: number): ClusterProto {
  const name = clusterName(svc.hostname, port);
  return {
    name,
    type: envoy.config.cluster.v3.Cluster.DiscoveryType.EDS,
    edsClusterConfig: { edsConfig: ADS_SOURCE, serviceName: name },
    lbPolicy: envoy.config.cluster.v3.Cluster.LbPolicy.ROUND_ROBIN,
  };
}

type LbEndpointProto = envoy.config.endpoint.v3.LbEndpoint.$Properties;
type LocalityEndpointsProto = envoy.config.endpoint.v3.LocalityLbEndpoints.$Properties;

/**
 * Endpoints of one service port, grouped by the locality of their workloads. Each locality weighs
 * as many endpoints as it has (grpc-js-xds silently drops a locality without a weight). Endpoints
 * whose address is not an IP literal, or whose workload does not serve the port, are left out;
 * `include` may leave out more (a subset's labels), `decorate` may add to each (metadata).
 */
export function localityEndpoints(
  svc: ServiceInfo,
  port: ServicePortInfo,
  workloadsByUid: { get(uid: string): WorkloadInfo | undefined },
  opts: { include?: (w: WorkloadInfo | undefined) => boolean; decorate?: (lb: LbEndpointProto, w: WorkloadInfo | undefined) => void } = {},
): LocalityEndpointsProto[] {
  const groups = new Map<string, { locality: envoy.config.core.v3.Locality.$Properties; lbEndpoints: LbEndpointProto[] }>();
  for (const ep of svc.endpoints) {
    if (!isIP(ep.address)) continue;
    const w = workloadsByUid.get(ep.workloadUid);
    if (opts.include && !opts.include(w)) continue;
    const target = ep.ports[port.port] ?? resolveTargetPort(port, w);
    if (target === undefined) continue;
    const loc = w?.locality;
    const key = loc ? `${loc.region}/${loc.zone}/${loc.subzone}` : '';
    let group = groups.get(key);
    if (!group) {
      group = { locality: loc ? { region: loc.region, zone: loc.zone, subZone: loc.subzone } : {}, lbEndpoints: [] };
      groups.set(key, group);
    }
    const lb: LbEndpointProto = {
      endpoint: { address: { socketAddress: { address: ep.address, portValue: target } } },
      healthStatus: ep.healthy ? envoy.config.core.v3.HealthStatus.HEALTHY : envoy.config.core.v3.HealthStatus.UNHEALTHY,
    };
    opts.decorate?.(lb, w);
    group.lbEndpoints.push(lb);
  }
  return [...groups.values()].map((g) => ({ locality: g.locality, loadBalancingWeight: { value: g.lbEndpoints.length }, lbEndpoints: g.lbEndpoints }));
}

/** The ClusterLoadAssignment of one service port for proxyless clients. */
export function loadAssignment(svc: ServiceInfo, port: ServicePortInfo, workloadsByUid: { get(uid: string): WorkloadInfo | undefined }): ClusterLoadAssignmentProto {
  return { clusterName: clusterName(svc.hostname, port.port), endpoints: localityEndpoints(svc, port, workloadsByUid) };
}
