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
import { LABELS, matchesSelector, type BuildContext } from './build-context.ts';
import { podUid, type MutableWorkload } from './workloads.ts';

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Workloads by namespace and label, so selecting a service's endpoints costs the size of the smallest
 * matching label group, not a scan of every workload (10,000 endpoints x many services).
 */
class WorkloadIndex {
  readonly #byLabel = new Map<string, MutableWorkload[]>();
  constructor(workloads: readonly MutableWorkload[]) {
    for (const w of workloads) {
      for (const [k, v] of Object.entries(w.labels)) {
        const key = `${w.namespace}\0${k}\0${v}`;
        const list = this.#byLabel.get(key);
        if (list) list.push(w);
        else this.#byLabel.set(key, [w]);
      }
    }
  }
  /** Workloads in `namespace` whose labels include all of `selector` (a non-empty selector). */
  select(namespace: string, selector: Readonly<Record<string, string>>): MutableWorkload[] {
    let smallest: MutableWorkload[] | undefined;
    for (const [k, v] of Object.entries(selector)) {
      const list = this.#byLabel.get(`${namespace}\0${k}\0${v}`) ?? [];
      if (!smallest || list.length < smallest.length) smallest = list;
    }
    return (smallest ?? []).filter((w) => matchesSelector(selector, w.labels));
  }
}

/** The workload port serving `sp`, or undefined when this workload does not serve it. */
function workloadPort(w: MutableWorkload, sp: ServicePortInfo): number | undefined {
  if (w.kind === 'WorkloadEntry' && sp.name && w.namedPorts[sp.name] !== undefined) return w.namedPorts[sp.name];
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  return w.namedPorts[sp.targetPort];
}

function endpointsFromWorkloads(workloads: readonly MutableWorkload[], ports: readonly ServicePortInfo[]): EndpointInfo[] {
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

function fromService(ctx: BuildContext, svc: ConfigResource, index: WorkloadIndex): ServiceInfo {
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
    endpoints = selector ? endpointsFromWorkloads(index.select(namespace, selector), ports) : endpointsFromSlices(ctx, svc, ports);
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

function fromServiceEntry(ctx: BuildContext, se: ConfigResource, index: WorkloadIndex): ServiceInfo[] {
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
    endpoints = endpointsFromWorkloads(index.select(namespace, selector), ports);
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

/** Services sorted by key, endpoints by address; each workload learns the services it backs. */
export function buildServices(ctx: BuildContext, workloads: MutableWorkload[]): ServiceInfo[] {
  const services: ServiceInfo[] = [];
  const index = new WorkloadIndex(workloads);
  for (const svc of ctx.of('Service')) services.push(fromService(ctx, svc, index));
  for (const se of ctx.of('ServiceEntry')) services.push(...fromServiceEntry(ctx, se, index));
  const byUid = new Map(workloads.map((w) => [w.uid, w]));
  const seen = new Set<string>();
  const out: ServiceInfo[] = [];
  for (const s of services.sort((a, b) => byText(a.key, b.key))) {
    // Two ServiceEntries (or a Service and a ServiceEntry) may name one host: the first by key wins, as in Istio's registry.
    if (seen.has(s.key)) continue;
    seen.add(s.key);
    const endpoints = [...s.endpoints].sort((a, b) => byText(a.address, b.address) || byText(a.workloadUid, b.workloadUid));
    for (const e of endpoints) byUid.get(e.workloadUid)?.services.push(s.key);
    out.push({ ...s, endpoints });
  }
  for (const w of workloads) w.services.sort(byText);
  return out;
}
