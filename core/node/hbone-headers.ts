/**
 * HBONE CONNECT request headers as ztunnel writes them (src/baggage.rs, src/proxy/outbound.rs):
 * `baggage` from the source workload (k8s.cluster.name, k8s.namespace.name, k8s.<type>.name,
 * service.name, service.version, and cloud.region / cloud.availability_zone when known; empty
 * values left out) and `forwarded: for="<client ip:port>";host=<service hostname>`; and, on the
 * receiving side, the client address `forwarded` carries (ztunnel's get_original_src_from_fwded),
 * which L4 authorization and telemetry use instead of the tunnel peer's (a node proxy).
 */
import type { NodeWorkload } from './model.ts';
import type { HbonePlan } from './plan-types.ts';
import { canonicalIp, formatSocketAddress, parseSocketAddress } from './socket-address.ts';
import type { SocketAddress } from './socket-address.ts';

export function baggageFor(w: NodeWorkload): string {
  const parts: [string, string][] = [
    ['k8s.cluster.name', w.clusterId],
    ['k8s.namespace.name', w.namespace],
    [`k8s.${w.kind}.name`, w.workloadName],
    ['service.name', w.canonicalName],
    ['service.version', w.canonicalRevision],
    ['cloud.region', w.locality?.region ?? ''],
    ['cloud.availability_zone', w.locality?.zone ?? ''],
  ];
  return parts
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** `for="<client>"`, plus `;host=<hostname>` when the client meant a service. */
export function forwardedFor(client: string, serviceHostname?: string): string {
  const addr = parseSocketAddress(client);
  const text = addr ? formatSocketAddress(addr.ip, addr.port) : client;
  return serviceHostname ? `for="${text}";host=${serviceHostname}` : `for="${text}"`;
}

/** The headers of the CONNECT request for an HBONE plan; `client` is the app's ip:port. */
export function hboneHeaders(plan: HbonePlan, client: string): { baggage: string; forwarded: string } {
  return { baggage: baggageFor(plan.source), forwarded: forwardedFor(client, plan.service?.hostname) };
}

/** A peer's baggage header (one or several values) as key -> value, empty values left out. */
export function parseBaggage(values: string | readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of typeof values === 'string' ? [values] : (values ?? [])) {
    for (const item of v.split(',')) {
      const eq = item.indexOf('=');
      if (eq <= 0) continue;
      const key = item.slice(0, eq).trim();
      const value = item.slice(eq + 1).split(';')[0]!.trim();
      if (value) out[key] = value;
    }
  }
  return out;
}

/**
 * The client address of a CONNECT request's `forwarded` header (RFC 7239): the `for=` of its first
 * element, quoted or not, `ip`, `ip:port`, `[v6]` or `[v6]:port`. Undefined when the header is
 * missing, names no `for=`, or holds something that is not an IP (`unknown`, an obfuscated
 * `_node` name, garbage): the caller then uses the tunnel peer's address. `port` is 0 when the
 * header gave none.
 */
export function forwardedClient(values: string | readonly string[] | undefined): SocketAddress | undefined {
  const first = typeof values === 'string' ? values : values?.[0];
  if (!first) return undefined;
  const element = first.split(',')[0]!;
  for (const pair of element.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
    let v = pair.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    const withPort = parseSocketAddress(v);
    if (withPort) return withPort;
    const bare = v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
    // a bracket-less IPv6 literal parses here too; 'unknown' and '_hidden' do not
    const ip = canonicalIp(bare);
    return ip === undefined ? undefined : { ip, port: 0 };
  }
  return undefined;
}

/**
 * Where an HBONE stream's connection comes from, for authorization and telemetry: the client in
 * `forwarded` when it names one, else the tunnel peer (`peerIp`, `peerPort`: the HBONE TCP
 * connection's remote end). `forwarded` tells which one was used.
 */
export function inboundSource(forwarded: string | readonly string[] | undefined, peerIp: string, peerPort: number): SocketAddress & { forwarded: boolean } {
  const f = forwardedClient(forwarded);
  if (f) return { ...f, forwarded: true };
  return { ip: canonicalIp(peerIp) ?? peerIp, port: peerPort, forwarded: false };
}
