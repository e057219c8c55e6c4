/**
 * MeshSnapshot -> Istio's workload API (istio.workload.Address), what node proxies route and
 * authorize from. Field choices follow istiod's ambient index (workloads.go, services.go): trust
 * domain left out when it is cluster.local, a service's named target port sent as 0 and resolved
 * per workload, selector policies listed on each workload they select.
 */
import type { MeshSettings, ServiceInfo, ServicePortInfo, WaypointRef, WorkloadInfo } from '../config/snapshot.ts';
import { parseCidr, parseIp } from '../net/ip.ts';
import { istio } from './pb.ts';
import type { AddressProto, ServiceProto, WorkloadProto } from './pb.ts';

/** HBONE port of waypoints and node proxies. */
export const HBONE_PORT = 15008;

/** What a workload's or service's Address needs from the rest of the snapshot. */
export interface WorkloadApiContext {
  mesh: MeshSettings;
  /** Services by `<namespace>/<name>` (to resolve waypoints, which are Gateways with a Service). */
  servicesByName: ReadonlyMap<string, ServiceInfo>;
}

export function serviceAddress(svc: ServiceInfo, ctx: WorkloadApiContext): AddressProto {
  const service: ServiceProto = {
    name: svc.name,
    namespace: svc.namespace,
    hostname: svc.hostname,
    addresses: networkAddresses(svc.addresses, ctx.mesh.network),
    ports: svc.ports.map((p) => ({
      servicePort: p.port,
      targetPort: typeof p.targetPort === 'number' ? p.targetPort : 0,
      appProtocol: appProtocol(p),
    })),
  };
  if (svc.waypoint) service.waypoint = gatewayAddress(svc.waypoint, ctx);
  return { service };
}

/** The PortList of each service a workload backs, keyed `<ns>/<hostname>` (see workloadServicePorts). */
export type WorkloadServicePorts = ReadonlyMap<string, istio.workload.Port.$Properties[]>;

export function workloadAddress(w: WorkloadInfo, ports: WorkloadServicePorts, policies: readonly string[], ctx: WorkloadApiContext): AddressProto {
  const trustDomain = trustDomainOf(w.identity);
  const workload: WorkloadProto = {
    uid: w.uid,
    name: w.name,
    namespace: w.namespace,
    addresses: w.addresses.map(parseIp).filter((a): a is Uint8Array => a !== undefined),
    // A workload known by DNS name only (a WorkloadEntry with a hostname address).
    hostname: w.addresses.find((a) => !parseIp(a)) ?? '',
    network: w.network,
    tunnelProtocol: w.tunnelProtocol === 'HBONE' ? istio.workload.TunnelProtocol.HBONE : istio.workload.TunnelProtocol.NONE,
    // ztunnel reads an empty trust domain as cluster.local, and istiod leaves it out then.
    trustDomain: trustDomain === 'cluster.local' ? '' : trustDomain,
    serviceAccount: w.serviceAccount,
    node: w.node,
    canonicalName: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    workloadType: w.kind === 'Pod' && w.workloadName !== w.name ? istio.workload.WorkloadType.DEPLOYMENT : istio.workload.WorkloadType.POD,
    workloadName: w.workloadName,
    services: Object.fromEntries([...ports].map(([key, list]) => [key, { ports: list }])),
    authorizationPolicies: [...policies],
    status: w.healthy ? istio.workload.WorkloadStatus.HEALTHY : istio.workload.WorkloadStatus.UNHEALTHY,
    clusterId: w.clusterId,
  };
  if (w.waypoint) workload.waypoint = gatewayAddress(w.waypoint, ctx);
  if (w.locality) workload.locality = { region: w.locality.region, zone: w.locality.zone, subzone: w.locality.subzone };
  return { workload };
}

/**
 * For every workload uid, the ports of each service it backs: the endpoint's own mapping when the
 * snapshot has one, else the service's numeric targetPort or the workload's named container port.
 * A named port the workload does not have leaves that port out, as istiod does.
 */
export function workloadServicePorts(services: readonly ServiceInfo[], workloadsByUid: ReadonlyMap<string, WorkloadInfo>): Map<string, Map<string, istio.workload.Port.$Properties[]>> {
  const out = new Map<string, Map<string, istio.workload.Port.$Properties[]>>();
  for (const svc of services) {
    for (const ep of svc.endpoints) {
      const w = workloadsByUid.get(ep.workloadUid);
      const list: istio.workload.Port.$Properties[] = [];
      for (const p of svc.ports) {
        const target = ep.ports[p.port] ?? resolveTargetPort(p, w);
        if (target !== undefined) list.push({ servicePort: p.port, targetPort: target });
      }
      let byService = out.get(ep.workloadUid);
      if (!byService) out.set(ep.workloadUid, (byService = new Map()));
      byService.set(svc.key, list);
    }
  }
  return out;
}

export function resolveTargetPort(p: ServicePortInfo, w: WorkloadInfo | undefined): number | undefined {
  if (typeof p.targetPort === 'number') return p.targetPort;
  return w?.namedPorts[p.targetPort];
}

/** VIPs, and ServiceEntry address ranges (with their prefix length). */
function networkAddresses(addresses: readonly string[], network: string): istio.workload.NetworkAddress.$Properties[] {
  const out: istio.workload.NetworkAddress.$Properties[] = [];
  for (const a of addresses) {
    const cidr = parseCidr(a);
    if (!cidr) continue;
    const addr: istio.workload.NetworkAddress.$Properties = { network, address: cidr.address };
    if (cidr.length < cidr.address.length * 8) addr.length = cidr.length;
    out.push(addr);
  }
  return out;
}

/**
 * A waypoint is reached at its Service's VIP when it has one (as istiod prefers), otherwise by the
 * Service's hostname.
 */
function gatewayAddress(ref: WaypointRef, ctx: WorkloadApiContext): istio.workload.GatewayAddress.$Properties {
  const svc = ctx.servicesByName.get(`${ref.namespace}/${ref.name}`);
  const vip = svc?.addresses.map(parseIp).find((a) => a !== undefined);
  if (vip) return { address: { network: ctx.mesh.network, address: vip }, hboneMtlsPort: HBONE_PORT };
  const hostname = svc?.hostname ?? `${ref.name}.${ref.namespace}.svc.${ctx.mesh.domainSuffix}`;
  return { hostname: { namespace: ref.namespace, hostname }, hboneMtlsPort: HBONE_PORT };
}

/** Kubernetes' rule: appProtocol, else the port name's prefix before '-'. */
function appProtocol(p: ServicePortInfo): istio.workload.AppProtocol {
  const name = (p.appProtocol ?? p.name.split('-')[0] ?? '').toLowerCase();
  switch (name) {
    case 'http':
    case 'http1':
      return istio.workload.AppProtocol.HTTP11;
    case 'http2':
    case 'h2c':
    case 'kubernetes.io/h2c':
      return istio.workload.AppProtocol.HTTP2;
    case 'grpc':
      return istio.workload.AppProtocol.GRPC;
    default:
      return istio.workload.AppProtocol.UNKNOWN;
  }
}

/** `spiffe://<td>/ns/<ns>/sa/<sa>` -> `<td>`. */
function trustDomainOf(identity: string): string {
  if (!identity.startsWith('spiffe://')) return '';
  const end = identity.indexOf('/', 9);
  return end < 0 ? '' : identity.slice(9, end);
}
