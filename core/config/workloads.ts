/**
 * Workloads from Pods and WorkloadEntries, in Istio's workload API terms: uid, addresses, node,
 * identity, canonical names, ambient enrolment (HBONE) and waypoint. Outside Kubernetes the node that
 * serves a WorkloadEntry is named by its `weft.io/node` label.
 */
import type { ConfigResource, Locality, WorkloadInfo } from './snapshot.ts';
import type { PodSpec, PodStatus } from './schema/core-v1.ts';
import type { WorkloadEntrySpec } from './schema/istio-networking.ts';
import { isIP } from '../net/ip.ts';
import { LABELS, type BuildContext } from './build-context.ts';

/** A workload as its own resource and the build context make it; the services it backs are added once services are built. */
export type WorkloadBase = Omit<WorkloadInfo, 'services'>;

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export const podUid = (clusterId: string, ns: string, name: string) => `${clusterId}//Pod/${ns}/${name}`;
export const workloadEntryUid = (clusterId: string, ns: string, name: string) => `${clusterId}/networking.istio.io/WorkloadEntry/${ns}/${name}`;

function canonical(labels: Readonly<Record<string, string>>, workloadName: string): { name: string; revision: string } {
  return {
    name: labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? workloadName,
    revision: labels['service.istio.io/canonical-revision'] ?? labels['app.kubernetes.io/version'] ?? labels.version ?? 'latest',
  };
}

/** ambient when the workload or its namespace says so; a workload's own `none` opts out. */
function tunnel(ctx: BuildContext, ns: string, labels: Readonly<Record<string, string>>): 'HBONE' | 'NONE' {
  const own = labels[LABELS.dataplaneMode];
  if (own !== undefined) return own === 'ambient' ? 'HBONE' : 'NONE';
  return ctx.nsLabels(ns)[LABELS.dataplaneMode] === 'ambient' ? 'HBONE' : 'NONE';
}

function locality(region?: string, zone?: string, subzone?: string): Locality | undefined {
  return region || zone || subzone ? { region: region ?? '', zone: zone ?? '', subzone: subzone ?? '' } : undefined;
}

/** Istio names a pod's workload after its controller: a ReplicaSet's Deployment, else the owner, else the pod. */
function podWorkloadName(pod: ConfigResource): string {
  const owners = pod.metadata.ownerReferences ?? [];
  const owner = owners.find((o) => o.controller) ?? owners[0];
  if (!owner) return pod.metadata.name;
  const hash = pod.metadata.labels['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) return owner.name.slice(0, -hash.length - 1);
  return owner.name;
}

function fromPod(ctx: BuildContext, pod: ConfigResource): WorkloadBase | undefined {
  const spec = pod.spec as PodSpec;
  const status = (pod.extra?.status ?? {}) as PodStatus;
  const { namespace, name, labels } = pod.metadata;
  if (status.phase === 'Succeeded' || status.phase === 'Failed') return undefined;
  const addresses = status.podIPs?.length ? status.podIPs.map((p) => p.ip) : status.podIP ? [status.podIP] : [];
  if (addresses.length === 0) {
    ctx.warn(pod, ['status', 'podIP'], 'is not set: the pod is not a workload until it has an address');
    return undefined;
  }
  if (!spec.nodeName) ctx.warn(pod, ['spec', 'nodeName'], 'is not set: no node proxy serves this pod');
  const serviceAccount = spec.serviceAccountName || spec.serviceAccount || 'default';
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  const healthy = ready ? ready.status === 'True' : status.phase === undefined || status.phase === 'Running';
  const namedPorts: Record<string, number> = {};
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) for (const p of c.ports ?? []) if (p.name) namedPorts[p.name] = p.containerPort;
  const workloadName = podWorkloadName(pod);
  const canon = canonical(labels, workloadName);
  const waypoint = ctx.waypointFor(pod, labels, 'workload');
  const loc = locality(labels['topology.kubernetes.io/region'], labels['topology.kubernetes.io/zone'], labels['topology.istio.io/subzone']);
  return {
    uid: podUid(ctx.mesh.clusterId, namespace, name),
    name,
    namespace,
    kind: 'Pod',
    addresses,
    node: spec.nodeName ?? '',
    serviceAccount,
    identity: spiffeId(ctx.mesh.trustDomain, namespace, serviceAccount),
    labels,
    canonicalName: canon.name,
    canonicalRevision: canon.revision,
    workloadName,
    tunnelProtocol: spec.hostNetwork ? 'NONE' : tunnel(ctx, namespace, labels),
    namedPorts,
    ...(waypoint ? { waypoint } : {}),
    healthy,
    network: labels['topology.istio.io/network'] ?? ctx.mesh.network,
    clusterId: ctx.mesh.clusterId,
    ...(loc ? { locality: loc } : {}),
  };
}

function fromWorkloadEntry(ctx: BuildContext, we: ConfigResource): WorkloadBase {
  const spec = we.spec as WorkloadEntrySpec;
  const { namespace, name } = we.metadata;
  // The two label sets merged; one of them as it is when the other is empty (10,000 copies saved).
  const own = spec.labels ?? {};
  const labels = Object.keys(own).length === 0 ? we.metadata.labels : Object.keys(we.metadata.labels).length === 0 ? own : { ...we.metadata.labels, ...own };
  const address = spec.address ?? '';
  if (address && !isIP(address)) ctx.warn(we, ['spec', 'address'], 'is not an IP address: Weft needs one to reach this workload');
  const node = labels[LABELS.node] ?? '';
  if (!node) ctx.warn(we, ['metadata', 'labels'], `has no ${LABELS.node} label: no node proxy serves this workload`);
  const serviceAccount = spec.serviceAccount || 'default';
  const canon = canonical(labels, name);
  const waypoint = ctx.waypointFor(we, labels, 'workload');
  const conditions = ((we.extra?.status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions) ?? [];
  const health = conditions.find((c) => c.type === 'Healthy');
  const [region, zone, subzone] = (spec.locality ?? '').split('/');
  const loc = locality(region, zone, subzone);
  return {
    uid: workloadEntryUid(ctx.mesh.clusterId, namespace, name),
    name,
    namespace,
    kind: 'WorkloadEntry',
    addresses: isIP(address) ? [address] : [],
    node,
    serviceAccount,
    identity: spiffeId(ctx.mesh.trustDomain, namespace, serviceAccount),
    labels,
    canonicalName: canon.name,
    canonicalRevision: canon.revision,
    workloadName: name,
    tunnelProtocol: tunnel(ctx, namespace, labels),
    namedPorts: { ...(spec.ports ?? {}) },
    ...(waypoint ? { waypoint } : {}),
    healthy: health ? health.status === 'True' : true,
    network: spec.network ?? labels['topology.istio.io/network'] ?? ctx.mesh.network,
    clusterId: ctx.mesh.clusterId,
    ...(loc ? { locality: loc } : {}),
  };
}

/** The workload a Pod or WorkloadEntry makes (frozen), or undefined (a pod without an address, a finished pod). */
export function workloadFrom(ctx: BuildContext, res: ConfigResource): WorkloadBase | undefined {
  const w = res.kind === 'Pod' ? fromPod(ctx, res) : fromWorkloadEntry(ctx, res);
  return w && Object.freeze(w);
}
