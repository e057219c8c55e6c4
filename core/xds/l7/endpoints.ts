/**
 * ClusterLoadAssignments for L7 proxies and proxyless clients (core/route/README.md): endpoints grouped
 * by locality (each locality weighted, as grpc-js-xds requires), filtered by a subset's labels, each
 * carrying `filter_metadata.istio.workload` (telemetry) and `filter_metadata.weft` {identity, tunnel,
 * labels} (how an L7 proxy reaches it: HBONE to <address>:15008 expecting `identity`, or plain TCP).
 */
import type { ServiceInfo, ServicePortInfo, WorkloadInfo } from '../../config/snapshot.ts';
import { jsonToStruct } from '../codec.ts';
import type { ClusterLoadAssignmentProto } from '../pb.ts';
import { localityEndpoints } from '../envoy-resources.ts';
import { subsetClusterName } from './names.ts';

export interface WorkloadLookup {
  get(uid: string): WorkloadInfo | undefined;
}

/** Istio's `istio.workload` endpoint metadata: `<name>;<namespace>;<canonical name>;<revision>;<cluster>`. */
export function istioWorkloadMetadata(w: WorkloadInfo): string {
  return `${w.workloadName};${w.namespace};${w.canonicalName};${w.canonicalRevision};${w.clusterId}`;
}

export function l7LoadAssignment(svc: ServiceInfo, port: ServicePortInfo, workloads: WorkloadLookup, subset = '', subsetLabels?: Readonly<Record<string, string>>): ClusterLoadAssignmentProto {
  const endpoints = localityEndpoints(svc, port, workloads, {
    ...(subsetLabels ? { include: (w) => !!w && Object.entries(subsetLabels).every(([k, v]) => w.labels[k] === v) } : {}),
    decorate: (lb, w) => {
      if (!w) return;
      lb.metadata = {
        filterMetadata: {
          istio: jsonToStruct({ workload: istioWorkloadMetadata(w) }),
          weft: jsonToStruct({ identity: w.identity, tunnel: w.tunnelProtocol, labels: { ...w.labels } }),
        },
      };
    },
  });
  return { clusterName: subsetClusterName(svc.hostname, port.port, subset), endpoints };
}
