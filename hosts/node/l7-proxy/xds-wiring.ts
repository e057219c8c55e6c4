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
import type { DeltaTransport } from '../xds/delta-client-base.ts';
import type { CompiledListener } from '../../../core/route/listener-chains.ts';
import { TYPE_URL } from '../../../core/xds/type-urls.ts';
import type { envoy } from '../../../core/xds/pb.ts';
import { L7_WATCHES, type EnvoyConfig, type EnvoyConfigStore } from './envoy-config.ts';

/**
 * The names Envoy's xDS makes a client ask for by name (RDS, EDS and SDS are not wildcard types):
 * the route configurations and secrets its listeners' filter chains name, and the assignments of
 * its EDS clusters. Recomputed on each change; the client subscribes and unsubscribes the difference.
 */
export function wantedNames(c: EnvoyConfig): Map<string, Set<string>> {
  const routes = new Set<string>();
  const secrets = new Set<string>();
  for (const l of c.byType.get(TYPE_URL.listener)!.values()) {
    for (const chain of (l.compiled as CompiledListener).chains) {
      routes.add(chain.hcm.routeConfigName);
      if (chain.tlsSecret) secrets.add(chain.tlsSecret);
    }
  }
  const endpoints = new Set<string>();
  for (const r of c.byType.get(TYPE_URL.cluster)!.values()) {
    const cl = r.message as envoy.config.cluster.v3.Cluster;
    if (cl.type === 3 /* EDS */) endpoints.add(cl.edsClusterConfig?.serviceName || cl.name);
  }
  return new Map([
    [TYPE_URL.route, routes],
    [TYPE_URL.endpoint, endpoints],
    [TYPE_URL.secret, secrets],
  ]);
}

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
  /** ECDS plugin bindings (plugin-host.ts): watched by wildcard; the answer waits for their load. */
  plugins?: { apply(u: XdsUpdate): string | undefined | Promise<string | undefined> };
  log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  /** In-process xDS (`weft up`) instead of gRPC to `control`. */
  transport?: DeltaTransport;
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

/** Listeners and clusters are watched by wildcard; routes, endpoints and secrets by the names they give. */
const WILDCARD_WATCHES = [TYPE_URL.cluster, TYPE_URL.listener] as const;

export function startL7Xds(o: L7XdsOptions): { client: DeltaXdsClient; isSynced(): boolean } {
  const pending = new Set<string>(WILDCARD_WATCHES);
  const subscribed = new Map<string, Set<string>>(L7_WATCHES.filter((t) => !(WILDCARD_WATCHES as readonly string[]).includes(t)).map((t) => [t, new Set<string>()]));
  let scheduled = false;
  /** After the response is answered: subscribe to what the new config names, drop what it no longer does. */
  const follow = (): void => {
    scheduled = false;
    for (const [typeUrl, names] of wantedNames(o.store.current)) {
      const have = subscribed.get(typeUrl)!;
      const add = [...names].filter((n) => !have.has(n));
      const drop = [...have].filter((n) => !names.has(n));
      if (add.length) client.subscribe(typeUrl, add);
      if (drop.length) client.unsubscribe(typeUrl, drop);
      subscribed.set(typeUrl, names);
    }
  };
  const validate = (u: XdsUpdate): string | undefined | Promise<string | undefined> => {
    if (u.typeUrl === TYPE_URL.extensionConfig) return o.plugins?.apply(u);
    const { errors } = o.store.apply({ typeUrl: u.typeUrl, resources: u.resources, removed: u.removed });
    pending.delete(u.typeUrl);
    if (!scheduled && (u.typeUrl === TYPE_URL.listener || u.typeUrl === TYPE_URL.cluster)) {
      scheduled = true;
      setImmediate(follow);
    }
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
    subscriptions: [...WILDCARD_WATCHES, ...(o.plugins ? [TYPE_URL.extensionConfig] : [])].map((typeUrl) => ({ typeUrl })),
    decode: false,
    validate,
    backoff: { initialMs: 100, maxMs: 5000 },
    ...(o.transport ? { transport: o.transport } : {}),
  });
  client.on('connected', () => o.log('info', `connected to the control plane at ${o.control}`));
  client.on('disconnected', (err: Error) => o.log('warn', `control plane at ${o.control} lost (${err.message}); serving the last config, reconnecting`));
  client.start();
  /** Synced: listeners and clusters arrived, and every route configuration they name is held. */
  const isSynced = (): boolean => {
    if (pending.size > 0) return false;
    for (const name of wantedNames(o.store.current).get(TYPE_URL.route)!) if (!o.store.get(TYPE_URL.route, name)) return false;
    return true;
  };
  return { client, isSynced };
}
