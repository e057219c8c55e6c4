/**
 * The request headers ztunnel puts on an HBONE CONNECT (src/proxy/outbound.rs, src/baggage.rs):
 * `forwarded: for="<src ip:port>";host=<service fqdn>`, `baggage` with the source workload's
 * k8s.cluster.name, k8s.namespace.name, k8s.<type>.name, service.name, service.version, and a
 * W3C `traceparent`. Pure string building for callers that hold no NodeWorkload (tests, the
 * bench); the node proxy builds baggage and forwarded from its plan with core/node/hbone-headers.ts.
 */
import { randomBytes } from 'node:crypto';
import { formatAuthority } from './authority.ts';

export interface SourceBaggage {
  cluster?: string;
  namespace?: string;
  /** `deployment`, `statefulset`, `pod`, ... (ztunnel's workload type). */
  workloadType?: string;
  workloadName?: string;
  service?: string;
  version?: string;
  region?: string;
  zone?: string;
}

/** `for="1.2.3.4:5678";host=svc.ns.svc.cluster.local` (`for="[::1]:5678"` for IPv6). */
export function forwardedHeader(source: { ip: string; port: number }, serviceHost?: string): string {
  const f = `for="${formatAuthority(source.ip, source.port)}"`;
  return serviceHost ? `${f};host=${serviceHost}` : f;
}

export function baggageHeader(b: SourceBaggage): string {
  const parts: string[] = [];
  if (b.cluster) parts.push(`k8s.cluster.name=${b.cluster}`);
  if (b.namespace) parts.push(`k8s.namespace.name=${b.namespace}`);
  if (b.workloadName) parts.push(`k8s.${b.workloadType ?? 'deployment'}.name=${b.workloadName}`);
  if (b.service) parts.push(`service.name=${b.service}`);
  if (b.version) parts.push(`service.version=${b.version}`);
  if (b.region) parts.push(`cloud.region=${b.region}`);
  if (b.zone) parts.push(`cloud.availability_zone=${b.zone}`);
  return parts.join(',');
}

/** The inbound side's reader of `baggage` lives in core (shared with the planners). */
export { parseBaggage } from '../../../core/node/hbone-headers.ts';

let pool = Buffer.alloc(0);
let offset = 0;

/** A fresh `00-<trace id>-<span id>-00` (random ids, not sampled), as ztunnel makes one per connection. */
export function newTraceparent(): string {
  if (offset + 24 > pool.length) {
    pool = randomBytes(24 * 256);
    offset = 0;
  }
  const trace = pool.toString('hex', offset, offset + 16);
  const span = pool.toString('hex', offset + 16, offset + 24);
  offset += 24;
  return `00-${trace}-${span}-00`;
}

/** The three headers together, ready for `HboneClient.connect({ headers })`. */
export function hboneHeaders(o: { source: { ip: string; port: number }; serviceHost?: string; baggage?: SourceBaggage; traceparent?: string }): Record<string, string> {
  const h: Record<string, string> = { forwarded: forwardedHeader(o.source, o.serviceHost), traceparent: o.traceparent ?? newTraceparent() };
  const b = o.baggage ? baggageHeader(o.baggage) : '';
  if (b) h.baggage = b;
  return h;
}
