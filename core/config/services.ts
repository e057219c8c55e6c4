/**
 * Services from Kubernetes Services and Istio ServiceEntries, with their endpoints: a Service's selector
 * picks workloads in its namespace (targetPort by number or by container port name; a WorkloadEntry's
 * `ports` map by service port name, as Istio reads it); a Service without a selector takes its
 * EndpointSlices; a ServiceEntry takes its inline endpoints or its workloadSelector.
 */
import type { ConfigResource, EndpointInfo, ServiceInfo, ServicePortInfo } from './snapshot.ts';
import type { EndpointSliceData, ServiceSpec } from './schema/core-v1.ts';
import type { ServiceEntrySpec } from './schema/istio-networking.ts';
import { isIP } from '../net/ip.ts';
import { LABELS, type BuildContext } from './build-context.ts';
import { podUid, type WorkloadBase } from './workloads.ts';

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Selects workloads in a namespace by labels (the mesh builder's label index). */
export type SelectWorkloads = (namespace: string, selector: Readonly<Record<string, string>>) => readonly WorkloadBase[];

/** The workload port serving `sp`, or undefined when this workload does not serve it. */
function workloadPort(w: WorkloadBase, sp: ServicePortInfo): number | undefined {
  if (w.kind === 'WorkloadEntry' && sp.name && w.namedPorts[sp.name] !== undefined) return w.namedPorts[sp.name];
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  return w.namedPorts[sp.targetPort];
}

function endpointsFromWorkloads(workloads: readonly WorkloadBase[], ports: readonly ServicePortInfo[]): EndpointInfo[] {
  const out: EndpointInfo[] = [];
  for (const w of workloads) {
    if (w.addresses.length === 0) continue;
    const map: Record<number, number> = {};
    for (const sp of ports) {
      const p = workloadPort(w, sp);
      if (p !== undefined) map[sp.port] = p;
    }
    if (ports.length > 0 && Object.keys(map).length === 0) continue;
    out.push({ workloadUid: w.uid, address: w.addresses[0]!, ports: map, healthy: w.healthy });
  }
  return out;
}

function endpointsFromSlices(ctx: BuildContext, svc: ConfigResource, ports: readonly ServicePortInfo[]): EndpointInfo[] {
  const { namespace, name } = svc.metadata;
  const out = new Map<string, EndpointInfo>();
  for (const slice of ctx.of('EndpointSlice')) {
    if (slice.metadata.namespace !== namespace || slice.metadata.labels[LABELS.serviceName] !== name) continue;
    const data = slice.extra as unknown as EndpointSliceData;
    if (data.addressType === 'FQDN') continue;
    for (const ep of data.endpoints) {
      // EndpointSlice: the addresses of one endpoint are fungible; consumers use the first.
      const address = ep.addresses[0]!;
      if (out.has(address)) continue;
      const map: Record<number, number> = {};
      for (const sp of ports) {
        const sliced = (data.ports ?? []).find((p) => (p.name ?? '') === sp.name && p.protocol === sp.protocol);
        if (sliced?.port !== undefined) map[sp.port] = sliced.port;
      }
      const target = ep.targetRef?.kind === 'Pod' && ep.targetRef.name ? podUid(ctx.mesh.clusterId, ep.targetRef.namespace ?? namespace, ep.targetRef.name) : undefined;
      out.set(address, {
        workloadUid: target ?? `${ctx.mesh.clusterId}/discovery.k8s.io/EndpointSlice/${namespace}/${slice.metadata.name}/${address}`,
        address,
        ports: map,
        healthy: ep.conditions?.ready !== false,
      });
    }
  }
  return [...out.values()];
}

function fromService(ctx: BuildContext, svc: ConfigResource, select: SelectWorkloads): ServiceInfo {
  const spec = svc.spec as ServiceSpec;
  const { namespace, name, labels } = svc.metadata;
  const hostname = `${name}.${namespace}.svc.${ctx.mesh.domainSuffix}`;
  const ips = [...(spec.clusterIPs ?? []), ...(spec.clusterIP !== undefined ? [spec.clusterIP] : [])].filter(isIP);
  const ports: ServicePortInfo[] = (spec.ports ?? []).map((p) => ({
    name: p.name ?? '',
    port: p.port,
    targetPort: p.targetPort ?? p.port,
    protocol: p.protocol,
    ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
  }));
  const selector = spec.selector && Object.keys(spec.selector).length > 0 ? spec.selector : undefined;
  let endpoints: EndpointInfo[] = [];
  if (spec.type !== 'ExternalName') {
    endpoints = selector ? endpointsFromWorkloads(select(namespace, selector), ports) : endpointsFromSlices(ctx, svc, ports);
  }
  const waypoint = ctx.waypointFor(svc, labels, 'service');
  return {
    key: `${namespace}/${hostname}`,
    name,
    namespace,
    hostname,
    addresses: [...new Set(ips)],
    ports,
    ...(selector ? { selector } : {}),
    labels,
    source: 'Service',
    ...(waypoint ? { waypoint } : {}),
    endpoints,
  };
}

function fromServiceEntry(ctx: BuildContext, se: ConfigResource, select: SelectWorkloads): ServiceInfo[] {
  const spec = se.spec as ServiceEntrySpec;
  const { namespace, name, labels } = se.metadata;
  const ports: ServicePortInfo[] = (spec.ports ?? []).map((p) => ({
    name: p.name,
    port: p.number,
    targetPort: p.targetPort ?? p.number,
    protocol: p.protocol?.toUpperCase() === 'UDP' ? 'UDP' : 'TCP',
    ...(p.protocol ? { appProtocol: p.protocol.toLowerCase() } : {}),
  }));
  const selector = spec.workloadSelector?.labels;
  let endpoints: EndpointInfo[];
  if (selector && Object.keys(selector).length > 0) {
    endpoints = endpointsFromWorkloads(select(namespace, selector), ports);
  } else {
    endpoints = (spec.endpoints ?? [])
      .filter((e) => e.address !== undefined)
      .map((e) => {
        const map: Record<number, number> = {};
        for (const sp of ports) map[sp.port] = e.ports?.[sp.name] ?? (sp.targetPort as number);
        return {
          workloadUid: `${ctx.mesh.clusterId}/networking.istio.io/ServiceEntry/${namespace}/${name}/${e.address}`,
          address: e.address!,
          ports: map,
          healthy: true,
        };
      });
  }
  const waypoint = ctx.waypointFor(se, labels, 'service');
  const addresses = (spec.addresses ?? []).filter(isIP);
  return spec.hosts.map((host) => ({
    key: `${namespace}/${host}`,
    name,
    namespace,
    hostname: host,
    addresses,
    ports,
    ...(selector ? { selector } : {}),
    labels,
    source: 'ServiceEntry',
    location: spec.location,
    resolution: spec.resolution === 'DYNAMIC_DNS' ? 'DNS' : spec.resolution,
    ...(waypoint ? { waypoint } : {}),
    endpoints,
  }));
}

/** What selects a service's endpoints: its label selector (over workloads in its namespace), else EndpointSlices or its own list. */
export function serviceSelector(res: ConfigResource): Readonly<Record<string, string>> | undefined {
  const selector = res.kind === 'Service' ? (res.spec as ServiceSpec).selector : (res.spec as ServiceEntrySpec).workloadSelector?.labels;
  return selector && Object.keys(selector).length > 0 ? selector : undefined;
}

/** A Service without a selector takes its endpoints from EndpointSlices. */
export function usesEndpointSlices(res: ConfigResource): boolean {
  return res.kind === 'Service' && !serviceSelector(res) && (res.spec as ServiceSpec).type !== 'ExternalName';
}

/** The services one Service or ServiceEntry (one per host) makes, endpoints sorted by address; frozen. */
export function serviceInfos(ctx: BuildContext, res: ConfigResource, select: SelectWorkloads): ServiceInfo[] {
  const made = res.kind === 'Service' ? [fromService(ctx, res, select)] : fromServiceEntry(ctx, res, select);
  return made.map((s) => {
    const endpoints = [...s.endpoints].sort((a, b) => byText(a.address, b.address) || byText(a.workloadUid, b.workloadUid));
    return Object.freeze({ ...s, endpoints: Object.freeze(endpoints) });
  });
}
