/**
 * HBONE CONNECT request headers as ztunnel writes them (src/baggage.rs, src/proxy/outbound.rs):
 * `baggage` from the source workload (k8s.cluster.name, k8s.namespace.name, k8s.<type>.name,
 * service.name, service.version, and cloud.region / cloud.availability_zone when known; empty
 * values left out) and `forwarded: for="<client ip:port>";host=<service hostname>`.
 */
import type { NodeWorkload } from './model.ts';
import type { HbonePlan } from './plan-types.ts';
import { formatSocketAddress, parseSocketAddress } from './socket-address.ts';

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
