/**
 * An L7 proxy's xDS (gateway, waypoint): one DeltaXdsClient to `weft control` over TLS (mesh root,
 * the control plane's SPIFFE id, join token) watching CDS, EDS, LDS, RDS and SDS by wildcard, with
 * the node identity core/route/README.md specifies (Istio's `router~<ip>~<name>.<ns>~<ns>.svc...`
 * id; NAMESPACE, NAME, LABELS, ADMIN_ADDRESS, WEFT_ROLE metadata), so the control plane can scope
 * listeners, routes and secrets to this proxy. Each update is applied to the EnvoyConfigStore in
 * the client's `validate` hook: a resource that fails to decode or compile NACKs with its name and
 * the rest applies. When the control plane goes away the proxy keeps serving its last config.
 */
import { controlPlaneIdentity } from '../ca/control-plane-cert.ts';
import { DeltaXdsClient } from '../xds/index.ts';
import type { XdsUpdate } from '../xds/index.ts';
import { L7_WATCHES, type EnvoyConfigStore } from './envoy-config.ts';

export interface L7Identity {
  role: 'gateway' | 'waypoint';
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  /** This proxy's address, in the node id. */
  ip: string;
  adminAddress?: string;
  domainSuffix?: string;
}

export interface L7XdsOptions {
  control: string;
  rootCertPem: string;
  token: string;
  trustDomain: string;
  identity: L7Identity;
  store: EnvoyConfigStore;
  log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
}

/** Istio's proxy id for a router (gateways and waypoints). */
export function routerNodeId(id: L7Identity): string {
  return `router~${id.ip}~${id.name}.${id.namespace}~${id.namespace}.svc.${id.domainSuffix ?? 'cluster.local'}`;
}

export function routerMetadata(id: L7Identity): Record<string, unknown> {
  return {
    NAMESPACE: id.namespace,
    NAME: id.name,
    LABELS: { ...id.labels },
    WEFT_ROLE: id.role,
    ...(id.adminAddress ? { ADMIN_ADDRESS: id.adminAddress } : {}),
  };
}

export function startL7Xds(o: L7XdsOptions): { client: DeltaXdsClient; synced: Promise<void>; isSynced(): boolean } {
  const pending = new Set<string>(L7_WATCHES);
  let markSynced!: () => void;
  const synced = new Promise<void>((r) => (markSynced = r));
  const validate = (u: XdsUpdate): string | undefined => {
    const { errors } = o.store.apply({ typeUrl: u.typeUrl, resources: u.resources, removed: u.removed });
    if (pending.delete(u.typeUrl) && pending.size === 0) markSynced();
    if (!errors.length) return undefined;
    const message = errors.map((e) => `${e.name}: ${e.message}`).join('; ');
    o.log('warn', `xDS ${u.typeUrl}: rejected ${message}`);
    return message;
  };
  const client = new DeltaXdsClient({
    address: o.control,
    tls: { rootCert: o.rootCertPem, serverIdentity: controlPlaneIdentity(o.trustDomain) },
    token: o.token,
    node: { id: routerNodeId(o.identity), metadata: routerMetadata(o.identity) },
    subscriptions: L7_WATCHES.map((typeUrl) => ({ typeUrl })),
    decode: false,
    validate,
    backoff: { initialMs: 100, maxMs: 5000 },
  });
  client.on('connected', () => o.log('info', `connected to the control plane at ${o.control}`));
  client.on('disconnected', (err: Error) => o.log('warn', `control plane at ${o.control} lost (${err.message}); serving the last config, reconnecting`));
  client.start();
  return { client, synced, isSynced: () => pending.size === 0 };
}
