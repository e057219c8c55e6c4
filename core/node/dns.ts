/**
 * The node proxy's DNS answers for mesh names (ztunnel's DNS proxy): service FQDNs and ServiceEntry
 * hosts (wildcards `*.example.com` too), short names completed with the client's Kubernetes search
 * path (`<name>.<ns>.svc.<suffix>`, `<name>.svc.<suffix>`, `<name>.<suffix>`), and names a client
 * resolver already completed wrongly (`api.example.com.<ns>.svc.<suffix>` -> `api.example.com`).
 * Undefined means "not a mesh name here": the host forwards the query upstream.
 */
import type { NodeService } from './model.ts';
import type { NodeState } from './state.ts';

export interface DnsQuery {
  name: string;
  /** The client's namespace; found from `clientIp` when left out. */
  clientNamespace?: string;
  clientIp?: string;
}

export interface DnsAnswer {
  /** The name asked, lowercased, without the final dot. */
  name: string;
  /** The mesh hostname it resolved to (a CNAME target when it differs from `name`). */
  hostname: string;
  /** IPv4 first, then IPv6; the DNS server answers A or AAAA from them. */
  addresses: string[];
  service: NodeService;
}

export function resolveMeshName(state: NodeState, q: DnsQuery): DnsAnswer | undefined {
  const name = q.name.toLowerCase().replace(/\.$/, '');
  if (!name) return undefined;
  const ns = q.clientNamespace ?? (q.clientIp ? state.workloadByIp(q.clientIp)?.namespace : undefined);
  const suffix = state.mesh.domainSuffix;
  const search = ns ? [`${ns}.svc.${suffix}`, `svc.${suffix}`, suffix] : [`svc.${suffix}`, suffix];
  const candidates = [name];
  for (const d of search) if (name.endsWith(`.${d}`)) candidates.push(name.slice(0, -(d.length + 1)));
  if (!name.endsWith(`.${suffix}`)) for (const d of search) candidates.push(`${name}.${d}`);
  for (const host of candidates) {
    const svc = lookup(state, host, ns);
    if (!svc) continue;
    const addresses = addressesOf(state, svc);
    if (addresses.length) return { name, hostname: svc.hostname, addresses, service: svc };
  }
  return undefined;
}

function lookup(state: NodeState, host: string, ns: string | undefined): NodeService | undefined {
  let found = visible(state.servicesByHostname(host), ns);
  const labels = host.split('.');
  for (let i = 1; !found && i < labels.length - 1; i++) found = visible(state.servicesByHostname(`*.${labels.slice(i).join('.')}`), ns);
  return found;
}

/** The client's own namespace's service first; NAMESPACE-visible services only to their namespace. */
function visible(list: readonly NodeService[], ns: string | undefined): NodeService | undefined {
  return list.find((s) => s.namespace === ns) ?? list.find((s) => s.visibility === 'PUBLIC');
}

function addressesOf(state: NodeState, svc: NodeService): string[] {
  const network = state.mesh.network;
  let out = svc.vips.filter((v) => v.network === network && v.length === (v.ip.includes(':') ? 128 : 32)).map((v) => v.ip);
  if (out.length === 0) {
    // Headless: the healthy endpoints themselves.
    out = state.endpoints(svc.key).flatMap((ep) => (ep.workload.healthy && ep.workload.network === network ? ep.workload.addresses : []));
  }
  return [...new Set(out)].sort((a, b) => Number(a.includes(':')) - Number(b.includes(':')));
}
