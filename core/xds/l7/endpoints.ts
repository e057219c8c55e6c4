/**
 * ClusterLoadAssignments for L7 proxies and proxyless clients (core/route/README.md): endpoints grouped
 * by locality (each locality weighted, as grpc-js-xds requires), filtered by a subset's labels, each
 * carrying `filter_metadata.istio.workload` (telemetry) and `filter_metadata.weft` {identity, tunnel,
 * labels} (how an L7 proxy reaches it: HBONE to <address>:15008 expecting `identity`, or plain TCP).
 */
import type { ServiceInfo, ServicePortInfo, WorkloadInfo } from '../../config/snapshot.ts';
import { isIP } from '../../net/ip.ts';
import { jsonToStruct } from '../codec.ts';
import { envoy } from '../pb.ts';
import type { ClusterLoadAssignmentProto } from '../pb.ts';
import { resolveTargetPort } from '../workload-api.ts';
import { subsetClusterName } from './names.ts';

export interface WorkloadLookup {
  get(uid: string): WorkloadInfo | undefined;
}

/** Istio's `istio.workload` endpoint metadata: `<name>;<namespace>;<canonical name>;<revision>;<cluster>`. */
export function istioWorkloadMetadata(w: WorkloadInfo): string {
  return `${w.workloadName};${w.namespace};${w.canonicalName};${w.canonicalRevision};${w.clusterId}`;
}

export function l7LoadAssignment(svc: ServiceInfo, port: ServicePortInfo, workloads: WorkloadLookup, subset = '', subsetLabels?: Readonly<Record<string, string>>): ClusterLoadAssignmentProto {
  const groups = new Map<string, { locality: envoy.config.core.v3.Locality.$Properties; lbEndpoints: envoy.config.endpoint.v3.LbEndpoint.$Properties[] }>();
  for (const ep of svc.endpoints) {
    if (!isIP(ep.address)) continue;
    const w = workloads.get(ep.workloadUid);
    if (subsetLabels && (!w || !Object.entries(subsetLabels).every(([k, v]) => w.labels[k] === v))) continue;
    const target = ep.ports[port.port] ?? resolveTargetPort(port, w);
    if (target === undefined) continue;
    const loc = w?.locality;
    const key = loc ? `${loc.region}/${loc.zone}/${loc.subzone}` : '';
    let group = groups.get(key);
    if (!group) {
      group = { locality: loc ? { region: loc.region, zone: loc.zone, subZone: loc.subzone } : {}, lbEndpoints: [] };
      groups.set(key, group);
    }
    const lb: envoy.config.endpoint.v3.LbEndpoint.$Properties = {
      endpoint: { address: { socketAddress: { address: ep.address, portValue: target } } },
      healthStatus: ep.healthy ? envoy.config.core.v3.HealthStatus.HEALTHY : envoy.config.core.v3.HealthStatus.UNHEALTHY,
    };
    if (w) {
      lb.metadata = {
        filterMetadata: {
          istio: jsonToStruct({ workload: istioWorkloadMetadata(w) }),
          weft: jsonToStruct({ identity: w.identity, tunnel: w.tunnelProtocol, labels: { ...w.labels } }),
        },
      };
    }
    group.lbEndpoints.push(lb);
  }
  return {
    clusterName: subsetClusterName(svc.hostname, port.port, subset),
    endpoints: [...groups.values()].map((g) => ({ locality: g.locality, loadBalancingWeight: { value: g.lbEndpoints.length }, lbEndpoints: g.lbEndpoints })),
  };
}
