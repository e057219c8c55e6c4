/**
 * The L7 half of a translation (core/route/README.md): from one MeshSnapshot, Gateway API status and
 * attachments, mesh routes per service port (GAMMA HTTPRoutes and mesh VirtualServices into the
 * route configuration `<hostname>:<port>`), clusters with DestinationRule policy and subsets, endpoint
 * metadata, and per-gateway listeners, route configurations and secrets assembled for the set of
 * gateways a proxy serves (`scope`, cached by that set).
 */
import type { ConfigIssue } from '../../config/issues.ts';
import { formatPath } from '../../config/field-path.ts';
import { classController, gatewayApiModel, isOurController, WAYPOINT_CONTROLLER, type GatewayApiModel } from '../../config/gateway-api-status.ts';
import type { ConfigResource, MeshSnapshot, ServiceInfo, ServicePortInfo } from '../../config/snapshot.ts';
import type { DestinationRuleSpec } from '../../config/schema/istio-destination-rule.ts';
import type { GatewaySpec } from '../../config/schema/gateway-api.ts';
import type { VirtualServiceSpec } from '../../config/schema/istio-virtual-service.ts';
import { EncodedResource } from '../encoded-resource.ts';
import { envoy } from '../pb.ts';
import type { ClusterLoadAssignmentProto, ClusterProto, RouteConfigurationProto, RouteProto } from '../pb.ts';
import { TYPE_URL } from '../type-urls.ts';
import { makeBackends, type Backends } from './backends.ts';
import { destinationRuleFor, hashPolicies, l7Cluster, mergePolicies, type HashPolicy } from './clusters.ts';
import { l7LoadAssignment, type WorkloadLookup } from './endpoints.ts';
import { gatewayApiGateways, istioGateways, mergeVirtualHosts, type GatewayOut } from './gateways.ts';
import { gatewayListeners, waypointListener, type FilterUse } from './listeners.ts';
import { AUTHZ_KEY_PREFIX, applicableAuthz, authzFilters } from './authz.ts';
import { gatewayKey, type GatewayKey } from './names.ts';
import { httpRouteRoutes, sortRanked, type Warn } from './routes-gateway-api.ts';
import { virtualServiceRoutes } from './routes-virtual-service.ts';
import type { L7Proxy } from './scope.ts';
import { tlsSecret } from './secrets.ts';
import { PLUGIN_KEY_PREFIX, PluginSelection } from '../plugins-select.ts';

export interface ScopedResources {
  listeners: EncodedResource[];
  routes: EncodedResource[];
  secrets: EncodedResource[];
  /** The WasmPlugins (http-filter, endpoint-picker) that select the proxy: ECDS TypedExtensionConfigs. */
  plugins: EncodedResource[];
}

const NO_USE: FilterUse = { fault: false, cors: false };

export class L7Translation {
  readonly model: GatewayApiModel;
  readonly warnings: ConfigIssue[] = [];
  /** The WasmPlugins of the snapshot (core/xds/plugins-select.ts): the L7 ones select per proxy here. */
  readonly plugins: PluginSelection;
  readonly #snapshot: MeshSnapshot;
  readonly #backends: Backends;
  readonly #warn: Warn;
  readonly #gateways = new Map<GatewayKey, GatewayOut>();
  readonly #meshUses = new Map<string, FilterUse>();
  readonly #hash = new Map<string, HashPolicy[]>();
  readonly #scopes = new Map<string, ScopedResources>();
  readonly #rules: readonly ConfigResource[];
  #meshIndex?: { vs: Map<string, ConfigResource[]>; gamma: Map<string, { route: ConfigResource; port?: number }[]> };

  constructor(snapshot: MeshSnapshot) {
    this.#snapshot = snapshot;
    const seen = new Set<string>();
    this.#warn = (res, path, message) => {
      const k = `${res.kind}/${res.metadata.namespace}/${res.metadata.name}\0${path}\0${message}`;
      if (seen.has(k)) return;
      seen.add(k);
      this.warnings.push({ severity: 'warning', file: res.origin.file, line: res.origin.line, resource: { kind: res.kind, namespace: res.metadata.namespace, name: res.metadata.name }, path, message });
    };
    this.model = gatewayApiModel(snapshot);
    this.plugins = new PluginSelection(snapshot.resources.get('WasmPlugin') ?? [], snapshot.mesh.rootNamespace || 'istio-system');
    this.#backends = makeBackends(snapshot, this.model.backend);
    this.#rules = snapshot.resources.get('DestinationRule') ?? [];
    const ctx = { snapshot, backends: this.#backends, warn: this.#warn, secretExists: () => true };
    for (const g of [...gatewayApiGateways(this.model, ctx), ...istioGateways(ctx)]) this.#gateways.set(g.key, g);
  }

  get gatewayKeys(): GatewayKey[] {
    return [...this.#gateways.keys()];
  }

  /** The gateways (and the waypoint) an L7 proxy serves, sorted: the cache key of its scope. */
  servedBy(p: L7Proxy): GatewayKey[] {
    const served = this.#served(p);
    // The AuthorizationPolicies, RequestAuthentications and WasmPlugins that apply are part of the scope's key.
    return [...served, ...applicableAuthz(this.#snapshot, p, served), ...this.plugins.forL7(p, served, this.#snapshot.services)];
  }

  #served(p: L7Proxy): GatewayKey[] {
    if (p.role === 'waypoint') return [gatewayKey('waypoint', p.namespace, p.name)];
    const only = p.labels['gateway.networking.k8s.io/gateway-name'];
    const out: GatewayKey[] = [];
    for (const g of this.#gateways.values()) {
      if (g.selector) {
        if (Object.keys(g.selector).length && Object.entries(g.selector).every(([k, v]) => p.labels[k] === v)) out.push(g.key);
      } else {
        const [, ns, name] = g.key.split('/');
        if (!only || (only === name && ns === p.namespace)) out.push(g.key);
      }
    }
    return out.sort();
  }

  /** Listeners, route configurations and secrets for a set of gateways (cached per set). */
  scope(keys: readonly GatewayKey[]): ScopedResources {
    const id = keys.join(',');
    const hit = this.#scopes.get(id);
    if (hit) return hit;
    const listeners: EncodedResource[] = [];
    const routes: EncodedResource[] = [];
    const secrets: EncodedResource[] = [];
    const v3 = envoy.config;
    const waypoints = keys.filter((k) => k.startsWith('waypoint/'));
    const gws = keys.map((k) => this.#gateways.get(k)).filter((g): g is GatewayOut => !!g);
    const uses = new Map<string, FilterUse>();
    for (const g of gws) for (const [rc, u] of g.uses) {
      const was = uses.get(rc) ?? { fault: false, cors: false };
      uses.set(rc, { fault: was.fault || u.fault, cors: was.cors || u.cors });
    }
    const authzKeys = keys.filter((k) => k.startsWith(AUTHZ_KEY_PREFIX));
    const authz = authzKeys.length ? authzFilters(this.#snapshot, authzKeys, { useAuthenticated: true, warn: this.#warn }) : undefined;
    const pluginKeys = keys.filter((k) => k.startsWith(PLUGIN_KEY_PREFIX));
    const pluginFilters = this.plugins.httpFilterNames(pluginKeys);
    for (const l of gatewayListeners(gws.flatMap((g) => g.servers), (rc) => uses.get(rc) ?? NO_USE, authz, pluginFilters)) {
      listeners.push(new EncodedResource(TYPE_URL.listener, l.name!, v3.listener.v3.Listener.encode(l).finish()));
    }
    const byConfig = new Map<string, GatewayOut['vhosts']>();
    for (const g of gws) for (const s of g.servers) if (!byConfig.has(s.routeConfig)) byConfig.set(s.routeConfig, []);
    for (const g of gws) for (const v of g.vhosts) byConfig.get(v.routeConfig)?.push(v);
    for (const [name, entries] of byConfig) {
      const rc: RouteConfigurationProto = { name, virtualHosts: mergeVirtualHosts(entries).map((vh) => ({ ...vh, routes: this.#withHash(vh.routes ?? []) })) };
      routes.push(new EncodedResource(TYPE_URL.route, name, v3.route.v3.RouteConfiguration.encode(rc).finish()));
    }
    const secretRes = new Map((this.#snapshot.resources.get('Secret') ?? []).map((s) => [`kubernetes://${s.metadata.namespace}/${s.metadata.name}`, s]));
    for (const name of new Set(gws.flatMap((g) => g.secrets))) {
      const res = secretRes.get(name);
      const proto = res && tlsSecret(res);
      if (proto) secrets.push(new EncodedResource(TYPE_URL.secret, name, envoy.extensions.transport_sockets.tls.v3.Secret.encode(proto).finish()));
    }
    for (const w of waypoints) {
      const [, ns, name] = w.split('/');
      for (const svc of this.#snapshot.services) {
        if (svc.waypoint?.namespace !== ns || svc.waypoint.name !== name || svc.addresses.length === 0) continue;
        for (const p of svc.ports) {
          if (p.protocol !== 'TCP') continue;
          const rc = `${svc.hostname}:${p.port}`;
          const wAuthz = authzKeys.length ? authzFilters(this.#snapshot, authzKeys, { useAuthenticated: false, service: svc, warn: this.#warn }) : undefined;
          const l = waypointListener(svc.hostname, p.port, svc.addresses, this.#meshUses.get(rc) ?? this.#meshUseOf(svc, p), wAuthz, this.#waypointPlugins(pluginKeys, svc));
          listeners.push(new EncodedResource(TYPE_URL.listener, l.name!, v3.listener.v3.Listener.encode(l).finish()));
        }
      }
    }
    const out = { listeners, routes, secrets, plugins: this.plugins.l7Resources(pluginKeys) };
    this.#scopes.set(id, out);
    return out;
  }

  /**
   * The http filters of a waypoint's listener for one service: plugins that target another Service
   * of the waypoint stay off this one's listeners (as Istio's Service-targeted policies do).
   */
  #waypointPlugins(pluginKeys: readonly string[], svc: ServiceInfo): string[] {
    return this.plugins.httpFilterNames(pluginKeys.filter((k) => this.plugins.appliesToService(k, svc)));
  }

  #meshUseOf(svc: ServiceInfo, port: ServicePortInfo): FilterUse {
    this.meshRoutes(svc, port.port);
    return this.#meshUses.get(`${svc.hostname}:${port.port}`) ?? NO_USE;
  }

  #index() {
    if (this.#meshIndex) return this.#meshIndex;
    const vs = new Map<string, ConfigResource[]>();
    for (const r of this.#snapshot.resources.get('VirtualService') ?? []) {
      const spec = r.spec as VirtualServiceSpec;
      if (spec.gateways?.length && !spec.gateways.includes('mesh')) continue;
      for (const h of spec.hosts ?? []) {
        const host = this.#backends.resolveHost(h, r.metadata.namespace);
        vs.set(host, [...(vs.get(host) ?? []), r]);
      }
    }
    const gamma = new Map<string, { route: ConfigResource; port?: number }[]>();
    for (const a of this.model.mesh) gamma.set(a.service.key, [...(gamma.get(a.service.key) ?? []), { route: a.route, ...(a.port !== undefined ? { port: a.port } : {}) }]);
    for (const r of this.#snapshot.resources.get('GRPCRoute') ?? []) {
      if ((r.spec as { parentRefs?: { kind: string }[] }).parentRefs?.some((p) => p.kind === 'Service')) this.#warn(r, 'spec.parentRefs', 'GRPCRoute with a Service parent (GAMMA) is not supported yet: use an HTTPRoute (ignored)');
    }
    return (this.#meshIndex = { vs, gamma });
  }

  /** The mesh route configuration `<hostname>:<port>` when GAMMA HTTPRoutes or mesh VirtualServices target the service; else undefined (the default route). */
  meshRoutes(svc: ServiceInfo, port: number): RouteConfigurationProto | undefined {
    const idx = this.#index();
    const gamma = (idx.gamma.get(svc.key) ?? []).filter((g) => g.port === undefined || g.port === port);
    const wild = [...idx.vs.entries()].filter(([h]) => h.startsWith('*') && svc.hostname.endsWith(h.slice(1))).flatMap(([, v]) => v);
    const vss = [...(idx.vs.get(svc.hostname) ?? []), ...wild];
    if (!gamma.length && !vss.length) return undefined;
    const name = `${svc.hostname}:${port}`;
    const use = { fault: false, cors: false };
    const routes: RouteProto[] = sortRanked(gamma.flatMap((g) => httpRouteRoutes(g.route, { backends: this.#backends, warn: this.#warn, mesh: true })));
    for (const vs of vss) routes.push(...virtualServiceRoutes(vs, { backends: this.#backends, warn: this.#warn, port, gateway: 'mesh', defaultPort: port, uses: use }));
    this.#meshUses.set(name, use);
    const domains = [svc.hostname, `${svc.hostname}:${port}`];
    if (svc.source === 'Service') {
      for (const h of [`${svc.name}.${svc.namespace}.svc`, `${svc.name}.${svc.namespace}`, svc.name]) domains.push(h, `${h}:${port}`);
    }
    return { name, virtualHosts: [{ name, domains, routes: this.#withHash(routes) }] };
  }

  /** Clusters and load assignments of a service port: the plain cluster, then one per DestinationRule subset. */
  clusters(svc: ServiceInfo, port: ServicePortInfo, workloads: WorkloadLookup): { cluster: ClusterProto; endpoints: ClusterLoadAssignmentProto }[] {
    const dr = destinationRuleFor(this.#rules, svc, this.#backends.resolveHost);
    const spec = dr?.spec as DestinationRuleSpec | undefined;
    const dnsHosts = svc.source === 'ServiceEntry' ? svc.endpoints.map((e) => e.address).filter((a) => a && !/^[\d.:]+$/.test(a)) : undefined;
    const out: { cluster: ClusterProto; endpoints: ClusterLoadAssignmentProto }[] = [];
    const top = mergePolicies(spec?.trafficPolicy, undefined, port.port);
    this.#noteHash(svc.hostname, port.port, '', top);
    out.push({ cluster: l7Cluster(svc, port, '', top, dr, this.#warn, dnsHosts), endpoints: l7LoadAssignment(svc, port, workloads) });
    for (const s of spec?.subsets ?? []) {
      const pol = mergePolicies(spec?.trafficPolicy, s.trafficPolicy, port.port);
      this.#noteHash(svc.hostname, port.port, s.name, pol);
      out.push({ cluster: l7Cluster(svc, port, s.name, pol, dr, this.#warn, dnsHosts), endpoints: l7LoadAssignment(svc, port, workloads, s.name, s.labels ?? {}) });
    }
    return out;
  }

  #noteHash(host: string, port: number, subset: string, policy: Parameters<typeof hashPolicies>[0]): void {
    const h = hashPolicies(policy);
    if (h) this.#hash.set(`outbound|${port}|${subset}|${host}`, h);
  }

  /** Routes to a cluster with a consistent-hash policy carry its hash_policy (Envoy keeps hashing on routes). */
  #withHash(routes: RouteProto[]): RouteProto[] {
    if (this.#hash.size === 0) this.#hashFromRules();
    if (this.#hash.size === 0) return routes;
    return routes.map((r) => {
      const c = r.route?.cluster ?? r.route?.weightedClusters?.clusters?.[0]?.name;
      const h = c ? this.#hash.get(c) : undefined;
      return h && r.route ? { ...r, route: { ...r.route, hashPolicy: h } } : r;
    });
  }

  #hashDone = false;
  #hashFromRules(): void {
    if (this.#hashDone) return;
    this.#hashDone = true;
    for (const dr of this.#rules) {
      const spec = dr.spec as DestinationRuleSpec;
      const host = this.#backends.resolveHost(spec.host, dr.metadata.namespace);
      const svc = this.#backends.byHost(host);
      for (const p of svc?.ports ?? []) {
        this.#noteHash(host, p.port, '', mergePolicies(spec.trafficPolicy, undefined, p.port));
        for (const s of spec.subsets ?? []) this.#noteHash(host, p.port, s.name, mergePolicies(spec.trafficPolicy, s.trafficPolicy, p.port));
      }
    }
  }
}

/** Whether a Gateway API Gateway is one this controller serves as a gateway (not a waypoint). */
export function isServedGateway(snapshot: MeshSnapshot, gw: ConfigResource): boolean {
  const c = classController(snapshot, (gw.spec as GatewaySpec).gatewayClassName);
  return isOurController(c) && c !== WAYPOINT_CONTROLLER;
}

export { formatPath };
