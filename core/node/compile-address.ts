/**
 * `istio.workload.Address` (as core/xds decodes it) -> NodeWorkload or NodeService, validated.
 * What the proxy cannot route safely is an error (the resource is rejected and NACKed, the last
 * good version stays): no uid, hostname or namespace; addresses that are not 4 or 16 bytes; a
 * tunnel protocol it does not know (guessing could send plaintext where mTLS was meant).
 */
import { formatIp } from '../net/ip.ts';
import type { AddressProto, ServiceProto, WorkloadProto } from '../xds/pb.ts';
import type { istio } from '../xds/pb.ts';
import type { GatewayTarget, NodeService, NodeServicePort, NodeVip, NodeWorkload, TunnelProtocol, WorkloadKind } from './model.ts';

export type AddressResult = { ok: true; kind: 'workload'; value: NodeWorkload } | { ok: true; kind: 'service'; value: NodeService } | { ok: false; message: string };

const TUNNELS: readonly TunnelProtocol[] = ['NONE', 'HBONE', 'LEGACY_ISTIO_MTLS'];
const KINDS: readonly WorkloadKind[] = ['deployment', 'cronjob', 'pod', 'job'];
const APP_PROTOCOLS = ['UNKNOWN', 'HTTP11', 'HTTP2', 'GRPC', 'TCP', 'TLS'] as const;

class Invalid extends Error {}

export function compileAddress(a: AddressProto): AddressResult {
  try {
    if (a.workload) return { ok: true, kind: 'workload', value: compileWorkload(a.workload) };
    if (a.service) return { ok: true, kind: 'service', value: compileService(a.service) };
    return { ok: false, message: 'Address holds neither a workload nor a service' };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, message: e.message };
    throw e;
  }
}

function ipText(bytes: Uint8Array | null | undefined, what: string): string {
  if (!bytes || (bytes.length !== 4 && bytes.length !== 16)) throw new Invalid(`${what} is not an IPv4 or IPv6 address (${bytes?.length ?? 0} bytes)`);
  return formatIp(bytes);
}

export function compileWorkload(w: WorkloadProto): NodeWorkload {
  const uid = w.uid ?? '';
  if (!uid) throw new Invalid('workload has no uid');
  const what = `workload ${uid}`;
  if (!w.namespace) throw new Invalid(`${what} has no namespace`);
  const tunnel = TUNNELS[w.tunnelProtocol ?? 0];
  if (!tunnel) throw new Invalid(`${what} has unknown tunnel protocol ${w.tunnelProtocol}`);
  const trustDomain = w.trustDomain || 'cluster.local';
  const serviceAccount = w.serviceAccount || 'default';
  const services = new Map<string, ReadonlyMap<number, number>>();
  for (const [key, list] of Object.entries(w.services ?? {})) {
    services.set(key, new Map((list.ports ?? []).map((p) => [p.servicePort ?? 0, p.targetPort ?? 0])));
  }
  const out: NodeWorkload = {
    uid,
    name: w.name ?? '',
    namespace: w.namespace,
    addresses: (w.addresses ?? []).map((b) => ipText(b, `${what} address`)),
    hostname: w.hostname ?? '',
    network: w.network ?? '',
    tunnel,
    trustDomain,
    serviceAccount,
    identity: `spiffe://${trustDomain}/ns/${w.namespace}/sa/${serviceAccount}`,
    node: w.node ?? '',
    canonicalName: w.canonicalName ?? '',
    canonicalRevision: w.canonicalRevision ?? '',
    kind: KINDS[w.workloadType ?? 0] ?? 'pod',
    workloadName: w.workloadName ?? '',
    clusterId: w.clusterId ?? '',
    healthy: (w.status ?? 0) === 0,
    services,
    authorizationPolicies: [...new Set(w.authorizationPolicies ?? [])],
    ...(w.waypoint ? { waypoint: gateway(w.waypoint, `${what} waypoint`) } : {}),
    ...(w.networkGateway ? { networkGateway: gateway(w.networkGateway, `${what} network gateway`) } : {}),
    ...(w.locality ? { locality: { region: w.locality.region ?? '', zone: w.locality.zone ?? '', subzone: w.locality.subzone ?? '' } } : {}),
  };
  return out;
}

export function compileService(s: ServiceProto): NodeService {
  if (!s.hostname) throw new Invalid('service has no hostname');
  if (!s.namespace) throw new Invalid(`service ${s.hostname} has no namespace`);
  const key = `${s.namespace}/${s.hostname}`;
  const vips: NodeVip[] = (s.addresses ?? []).map((a) => {
    const ip = ipText(a.address, `service ${key} address`);
    const max = ip.includes(':') ? 128 : 32;
    const length = a.length ?? max;
    if (length > max) throw new Invalid(`service ${key} address ${ip}/${length} has a prefix longer than the address`);
    return { network: a.network ?? '', ip, length };
  });
  const ports = new Map<number, NodeServicePort>();
  for (const p of s.ports ?? []) {
    const servicePort = p.servicePort ?? 0;
    ports.set(servicePort, { servicePort, targetPort: p.targetPort ?? 0, appProtocol: APP_PROTOCOLS[p.appProtocol ?? 0] ?? 'UNKNOWN' });
  }
  return {
    key,
    name: s.name ?? '',
    namespace: s.namespace,
    hostname: s.hostname,
    vips,
    ports,
    subjectAltNames: [...(s.subjectAltNames ?? [])],
    allowUnhealthy: s.loadBalancing?.healthPolicy === 1,
    visibility: s.visibility === 1 ? 'NAMESPACE' : 'PUBLIC',
    ...(s.waypoint ? { waypoint: gateway(s.waypoint, `service ${key} waypoint`) } : {}),
  };
}

function gateway(g: istio.workload.GatewayAddress.$Properties, what: string): GatewayTarget {
  const hbonePort = g.hboneMtlsPort || 15008;
  if (g.address) return { kind: 'address', network: g.address.network ?? '', ip: ipText(g.address.address, what), hbonePort };
  if (g.hostname?.hostname) return { kind: 'hostname', namespace: g.hostname.namespace ?? '', hostname: g.hostname.hostname, hbonePort };
  throw new Invalid(`${what} has neither an address nor a hostname`);
}
