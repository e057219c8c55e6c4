/**
 * MeshSnapshot -> every xDS resource Weft serves, encoded once per snapshot and shared by all
 * streams, with what changed since the previous translation (so a push to many streams looks only
 * at the changed names).
 *
 * A translation costs what changed, not the size of the mesh. The Store shares unchanged ServiceInfo
 * and WorkloadInfo objects between snapshots (snapshot.ts), so the translator walks only the part of
 * each list that differs from the previous snapshot's and encodes those objects again. What a resource
 * reads besides its own object is summed up in two keys compared once per translation: the context
 * (mesh network and domain suffix, the waypoints' services) and the AuthorizationPolicy list. When the
 * context changes every object is encoded again; when the policies change every workload's policy list
 * is computed again, and encoded again only if it differs. A resource encoded again with the same
 * bytes keeps its EncodedResource (and its framed chunks) and is not a change.
 */
import type { ConfigIssue } from '../config/issues.ts';
import type { ConfigResource, EndpointInfo, ListChanges, MeshSettings, MeshSnapshot, ServiceInfo, WorkloadInfo } from '../config/snapshot.ts';
import { formatIssue } from '../config/issues.ts';
import { WAYPOINT_CLASS } from '../config/build-context.ts';
import { diffList } from '../config/list-diff.ts';
import { selectorMatches, translateAuthorizationPolicy } from './authorization.ts';
import type { AuthorizationPolicySpec } from './authorization.ts';
import { EncodedResource } from './encoded-resource.ts';
import { apiListener, listenerName, routeConfiguration, tcpPorts } from './envoy-resources.ts';
import type { LayeredMap } from './layered-map.ts';
import { envoy, istio } from './pb.ts';
import { meshConfigResource } from './mesh-config.ts';
import { translatePeerAuthentications } from './peer-authentication.ts';
import type { PeerAuthenticationTranslation } from './peer-authentication.ts';
import { ResourceChanges, keep, type ResourceMap, type TypeChanges } from './resource-changes.ts';
import { TYPE_URL } from './type-urls.ts';
import { resolveTargetPort, serviceAddress, workloadAddress } from './workload-api.ts';
import type { WorkloadApiContext, WorkloadServicePorts } from './workload-api.ts';
import { L7Translation } from './l7/translate-l7.ts';
import { nodePluginsOf, type PluginSelection } from './plugins-select.ts';

export type { TypeChanges } from './resource-changes.ts';

/** Istio's default root namespace (MeshConfig.rootNamespace): its selector-less policies are mesh-wide. */
export const DEFAULT_ROOT_NAMESPACE = 'istio-system';

export interface XdsResources {
  /** Sequence number of this translation within its translator. */
  readonly id: number;
  /** The snapshot version, as xDS version_info / system_version_info. */
  readonly version: string;
  readonly resources: ResourceMap;
  /** Against translation `sinceId` (absent for the first one). */
  readonly changes?: { readonly sinceId: number; readonly byType: ReadonlyMap<string, TypeChanges> };
  /** Policies node proxies cannot enforce as written, and unsupported L7 fields, for status and `weft analyze`. */
  readonly warnings: readonly ConfigIssue[];
  /**
   * The L7 translation (core/xds/l7): Gateway API status, and the listeners, route configurations and
   * secrets of each gateway and waypoint, which are per proxy and so not in `resources`.
   */
  readonly l7?: L7Translation;
  /** Set on a per-proxy view of a translation (hosts/node/xds): the set of gateways it was scoped to. */
  readonly scopeKey?: string;
  /**
   * The l4-policy WasmPlugins (ECDS TypedExtensionConfigs, core/xds/plugins.ts) for the node proxy of
   * a node, with the workload UIDs each checks; absent when no WasmPlugin is an l4-policy. L7 proxies'
   * plugins come with their scope (`l7.scope(keys).plugins`). Neither is in `resources`: they are per proxy.
   */
  readonly nodePlugins?: (node: string) => readonly EncodedResource[];
}

/** The resource lists the L7 translation reads; when one changes (by identity) it is made again. */
/** What the L7 translation reads (AuthorizationPolicy/RequestAuthentication: the gateways' and waypoints' HTTP filters, core/xds/l7/authz.ts). */
const L7_KINDS = ['Gateway', 'GatewayClass', 'HTTPRoute', 'GRPCRoute', 'ReferenceGrant', 'VirtualService', 'DestinationRule', 'Secret', 'ServiceEntry', 'AuthorizationPolicy', 'RequestAuthentication', 'WasmPlugin'];

interface ServiceOut {
  svc: ServiceInfo;
  address: EncodedResource;
  envoy: readonly EncodedResource[];
}

interface WorkloadOut {
  w: WorkloadInfo;
  policies: readonly string[];
  address: EncodedResource;
}

interface SelectorPolicy {
  key: string;
  namespace: string;
  spec: AuthorizationPolicySpec;
}

const EMPTY: readonly never[] = Object.freeze([]);

export class XdsTranslator {
  readonly #rootNamespace: string;
  #last?: XdsResources & { resources: ReadonlyMap<string, LayeredMap<EncodedResource>> };
  /** The lists the last translation read, to find what differs in the next snapshot. */
  #prev?: { services: readonly ServiceInfo[]; workloads: readonly WorkloadInfo[] };
  #ctxKey = '';
  #policyList?: readonly ConfigResource[];
  #policyRootNs = '';
  #policyOut: readonly EncodedResource[] = EMPTY;
  #selectorPolicies: readonly SelectorPolicy[] = EMPTY;
  #policyWarnings: readonly ConfigIssue[] = EMPTY;
  #peerAuthList?: readonly ConfigResource[];
  #peerAuth: PeerAuthenticationTranslation = translatePeerAuthentications(EMPTY, '');
  #peerAuthOut: readonly EncodedResource[] = EMPTY;
  /** The `mesh` MeshConfig resource last published (node proxies' outbound policy, trust domain). */
  #meshOut: readonly EncodedResource[] = EMPTY;
  readonly #policies = new WeakMap<ConfigResource, { rootNs: string; result: ReturnType<typeof translateAuthorizationPolicy>; res?: EncodedResource }>();
  /** The current services by key and what they were encoded to; services sharing a hostname by hostname. */
  readonly #services = new Map<string, ServiceOut>();
  readonly #current = new Map<string, ServiceInfo>();
  readonly #hosts = new Map<string, { keys: string[]; out: readonly EncodedResource[] }>();
  readonly #workloads = new Map<string, WorkloadOut>();
  readonly #endpoints = new WeakMap<ServiceInfo, Map<string, EndpointInfo>>();
  readonly #lookup = { get: (uid: string): WorkloadInfo | undefined => this.#workloads.get(uid)?.w };
  #l7?: L7Translation;
  #l7Inputs: readonly unknown[] = EMPTY;
  /** Plugin warnings ("selects no proxy") and what they were computed from. */
  #pluginWarnings: { sel?: PluginSelection; workloads?: readonly WorkloadInfo[]; services?: readonly ServiceInfo[]; list: readonly ConfigIssue[] } = { list: EMPTY };

  constructor(opts: { rootNamespace?: string } = {}) {
    this.#rootNamespace = opts.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  }

  translate(snapshot: MeshSnapshot): XdsResources {
    const mesh = snapshot.mesh;
    const rootNs = mesh.rootNamespace || this.#rootNamespace;
    const out = new ResourceChanges(this.#last?.resources);
    let byName: Map<string, ServiceInfo> | undefined;
    const servicesByName = () => (byName ??= new Map(snapshot.services.map((s) => [`${s.namespace}/${s.name}`, s])));
    const ctx: WorkloadApiContext = {
      mesh,
      get servicesByName() {
        return servicesByName();
      },
    };

    const policyList = snapshot.resources.get('AuthorizationPolicy') ?? EMPTY;
    const peerAuthList = snapshot.resources.get('PeerAuthentication') ?? EMPTY;
    const policiesChanged = policyList !== this.#policyList || peerAuthList !== this.#peerAuthList || rootNs !== this.#policyRootNs;
    if (policiesChanged) {
      this.#translatePolicies(policyList, rootNs, out);
      this.#translatePeerAuthentications(peerAuthList, rootNs, out);
    }
    const meshRes = keep(this.#meshOut[0], meshConfigResource({ ...mesh, rootNamespace: rootNs }));
    if (meshRes !== this.#meshOut[0]) {
      out.replace(this.#meshOut, [meshRes]);
      this.#meshOut = [meshRes];
    }
    const ctxKey = contextKey(snapshot, servicesByName);
    const ctxChanged = ctxKey !== this.#ctxKey;
    const prev = ctxChanged ? undefined : this.#prev;

    // Services that are new or changed, and the keys gone; the current service of each key.
    let changedServices: readonly ServiceInfo[];
    let goneServices: string[];
    if (!prev) {
      changedServices = snapshot.services;
      const keys = new Set(snapshot.services.map((s) => s.key));
      goneServices = [...this.#current.keys()].filter((k) => !keys.has(k));
      this.#current.clear();
      for (const s of snapshot.services) this.#current.set(s.key, s);
    } else {
      const d = changesOf(prev.services, snapshot.services, snapshot.changes?.services);
      const keys = new Set(d.added.map((s) => s.key));
      goneServices = d.removed.filter((s) => !keys.has(s.key)).map((s) => s.key);
      changedServices = d.added;
      for (const k of goneServices) this.#current.delete(k);
      for (const s of d.added) this.#current.set(s.key, s);
    }

    // Workloads first: a service's endpoints read their workloads (locality, named ports).
    if (!prev || policiesChanged) {
      const seen = new Set<string>();
      for (const w of snapshot.workloads) {
        seen.add(w.uid);
        this.#workload(w, rootNs, ctx, !prev, out);
      }
      for (const [uid, e] of this.#workloads) {
        if (seen.has(uid)) continue;
        this.#workloads.delete(uid);
        out.replace([e.address], []);
      }
    } else {
      const d = changesOf(prev.workloads, snapshot.workloads, snapshot.changes?.workloads);
      const uids = new Set(d.added.map((w) => w.uid));
      for (const w of d.removed) {
        const e = this.#workloads.get(w.uid);
        if (uids.has(w.uid) || !e) continue;
        this.#workloads.delete(w.uid);
        out.replace([e.address], []);
      }
      for (const w of d.added) this.#workload(w, rootNs, ctx, true, out);
    }

    // The L7 translation reads the traffic resources and the shape of every service (names, ports,
    // addresses, waypoints: backends resolve against them); endpoint changes alone keep it.
    const l7Inputs = [...L7_KINDS.map((k) => snapshot.resources.get(k)), snapshot.namespaces, mesh.domainSuffix];
    const shapeChanged = !prev || goneServices.length > 0 || changedServices.some((s) => {
      const e = this.#services.get(s.key);
      return !e || serviceShape(e.svc) !== serviceShape(s);
    });
    const l7Changed = !this.#l7 || shapeChanged || l7Inputs.length !== this.#l7Inputs.length || l7Inputs.some((x, i) => x !== this.#l7Inputs[i]);
    if (l7Changed) {
      this.#l7 = new L7Translation(snapshot);
      this.#l7Inputs = l7Inputs;
    }

    const dirtyHosts = new Set<string>();
    for (const key of goneServices) {
      const e = this.#services.get(key);
      if (!e) continue;
      this.#services.delete(key);
      out.replace([e.address], []);
      this.#leaveHost(e.svc.hostname, key);
      dirtyHosts.add(e.svc.hostname);
    }
    for (const svc of changedServices) {
      const e = this.#services.get(svc.key);
      if (e && e.svc === svc && prev) continue;
      const address = keep(e?.address, new EncodedResource(TYPE_URL.address, svc.key, istio.workload.Address.encode(serviceAddress(svc, ctx)).finish()));
      const envoyOut = this.#envoyFor(svc, mesh, e?.envoy ?? EMPTY);
      out.replace(e ? [e.address] : [], [address]);
      if (!e) this.#joinHost(svc.hostname, svc.key);
      if (!e || !sameList(e.envoy, envoyOut)) dirtyHosts.add(svc.hostname);
      this.#services.set(svc.key, { svc, address, envoy: envoyOut });
    }
    if (l7Changed && prev) {
      // Routes and clusters of services that did not change may read what did (a backend, a DestinationRule).
      const done = new Set(changedServices.map((s) => s.key));
      for (const [key, e] of this.#services) {
        if (done.has(key)) continue;
        const envoyOut = this.#envoyFor(e.svc, mesh, e.envoy);
        if (!sameList(e.envoy, envoyOut)) {
          this.#services.set(key, { ...e, envoy: envoyOut });
          dirtyHosts.add(e.svc.hostname);
        }
      }
    }
    for (const host of dirtyHosts) this.#publishHost(host, out);

    const { resources, byType } = out.finish();
    const id = (this.#last?.id ?? 0) + 1;
    const last = this.#last;
    const plugins = this.#l7!.plugins;
    const pluginWarnings = this.#pluginWarningsOf(plugins, snapshot);
    const warnings = this.#l7!.warnings.length || pluginWarnings.length ? [...this.#policyWarnings, ...this.#l7!.warnings, ...pluginWarnings] : this.#policyWarnings;
    const nodePlugins = plugins.hasNode ? { nodePlugins: nodePluginsOf(plugins, snapshot) } : {};
    this.#last = { id, version: String(snapshot.version), resources, warnings, l7: this.#l7!, ...nodePlugins, ...(last ? { changes: { sinceId: last.id, byType } } : {}) };
    this.#prev = { services: snapshot.services, workloads: snapshot.workloads };
    this.#ctxKey = ctxKey;
    return this.#last;
  }

  /** Computed again only when the plugins, the workloads or the services changed (none: nothing to do). */
  #pluginWarningsOf(sel: PluginSelection, snapshot: MeshSnapshot): readonly ConfigIssue[] {
    if (!sel.hasL7 && !sel.hasNode) return EMPTY;
    const w = this.#pluginWarnings;
    if (w.sel === sel && w.workloads === snapshot.workloads && w.services === snapshot.services) return w.list;
    this.#pluginWarnings = { sel, workloads: snapshot.workloads, services: snapshot.services, list: sel.warnings(snapshot) };
    return this.#pluginWarnings.list;
  }

  #translatePolicies(list: readonly ConfigResource[], rootNs: string, out: ResourceChanges): void {
    const encoded: EncodedResource[] = [];
    const selectors: SelectorPolicy[] = [];
    const warnings: ConfigIssue[] = [];
    const before = new Map(this.#policyOut.map((r) => [r.name, r]));
    for (const res of list) {
      const { namespace, name } = res.metadata;
      let hit = this.#policies.get(res);
      if (!hit || hit.rootNs !== rootNs) {
        const result = translateAuthorizationPolicy(namespace, name, res.spec as AuthorizationPolicySpec, rootNs);
        const bytes = result.authorization ? istio.security.Authorization.encode(result.authorization).finish() : undefined;
        hit = { rootNs, result, ...(bytes ? { res: new EncodedResource(TYPE_URL.authorization, `${namespace}/${name}`, bytes) } : {}) };
        this.#policies.set(res, hit);
      }
      if (hit.result.warning) {
        warnings.push({ severity: 'warning', file: res.origin.file, line: res.origin.line, resource: { kind: res.kind, namespace, name }, path: '', message: hit.result.warning });
      }
      if (!hit.res) continue;
      const kept = keep(before.get(hit.res.name), hit.res);
      encoded.push(kept);
      if (hit.result.selected) selectors.push({ key: kept.name, namespace, spec: res.spec as AuthorizationPolicySpec });
    }
    out.replace(this.#policyOut, encoded);
    this.#policyList = list;
    this.#policyRootNs = rootNs;
    this.#policyOut = encoded;
    this.#selectorPolicies = selectors;
    this.#policyWarnings = warnings;
  }

  /** PeerAuthentication -> DENY policies on plaintext (peer-authentication.ts); their keys join the workloads' lists. */
  #translatePeerAuthentications(list: readonly ConfigResource[], rootNs: string, out: ResourceChanges): void {
    this.#peerAuth = translatePeerAuthentications(list, rootNs);
    const before = new Map(this.#peerAuthOut.map((r) => [r.name, r]));
    const encoded = this.#peerAuth.resources.map((r) => keep(before.get(r.name), r));
    out.replace(this.#peerAuthOut, encoded);
    this.#peerAuthList = list;
    this.#peerAuthOut = encoded;
  }

  /** Encodes a workload's Address unless the same object with the same policies already was. */
  #workload(w: WorkloadInfo, rootNs: string, ctx: WorkloadApiContext, force: boolean, out: ResourceChanges): void {
    const e = this.#workloads.get(w.uid);
    const policies = this.#policiesFor(w, rootNs);
    if (e && e.w === w && !force && sameList(e.policies, policies)) return;
    const ports = this.#portsOf(w);
    const made = new EncodedResource(TYPE_URL.address, w.uid, istio.workload.Address.encode(workloadAddress(w, ports, policies, ctx)).finish());
    const address = keep(e?.address, made);
    if (address !== e?.address) out.replace(e ? [e.address] : [], [address]);
    this.#workloads.set(w.uid, { w, policies, address });
  }

  /**
   * Selector policies listed on a workload: its namespace's and the root namespace's that select it,
   * sorted, then the PeerAuthentication-derived ones (istiod's order).
   */
  #policiesFor(w: WorkloadInfo, rootNs: string): readonly string[] {
    if (this.#selectorPolicies.length === 0 && this.#peerAuthOut.length === 0) return EMPTY;
    const out: string[] = [];
    for (const p of this.#selectorPolicies) {
      if ((p.namespace === w.namespace || p.namespace === rootNs) && selectorMatches(p.spec.selector, w.labels)) out.push(p.key);
    }
    out.sort();
    if (this.#peerAuthOut.length) out.push(...this.#peerAuth.keysFor(w.namespace, w.labels));
    return out.length === 0 ? EMPTY : out;
  }

  /**
   * The PortList of each service a workload backs: the endpoint's own mapping when it has one, else
   * the service's numeric targetPort or the workload's named container port (a named port the
   * workload does not have leaves that port out, as istiod does).
   */
  #portsOf(w: WorkloadInfo): WorkloadServicePorts {
    const out = new Map<string, istio.workload.Port.$Properties[]>();
    for (const key of w.services) {
      const svc = this.#current.get(key);
      const ep = svc && this.#endpointOf(svc, w.uid);
      if (!ep) continue;
      const list: istio.workload.Port.$Properties[] = [];
      for (const p of svc.ports) {
        const target = ep.ports[p.port] ?? resolveTargetPort(p, w);
        if (target !== undefined) list.push({ servicePort: p.port, targetPort: target });
      }
      out.set(key, list);
    }
    return out;
  }

  #endpointOf(svc: ServiceInfo, uid: string): EndpointInfo | undefined {
    let byUid = this.#endpoints.get(svc);
    if (!byUid) this.#endpoints.set(svc, (byUid = new Map(svc.endpoints.map((e) => [e.workloadUid, e]))));
    return byUid.get(uid);
  }

  #envoyFor(svc: ServiceInfo, mesh: MeshSettings, old: readonly EncodedResource[]): EncodedResource[] {
    const out: EncodedResource[] = [];
    const v3 = envoy.config;
    const l7 = this.#l7!;
    for (const port of tcpPorts(svc)) {
      const name = listenerName(svc.hostname, port.port);
      const routes = l7.meshRoutes(svc, port.port) ?? routeConfiguration(svc, port.port, mesh);
      out.push(
        new EncodedResource(TYPE_URL.listener, name, v3.listener.v3.Listener.encode(apiListener(svc, port.port)).finish()),
        new EncodedResource(TYPE_URL.route, name, v3.route.v3.RouteConfiguration.encode(routes).finish()),
      );
      // The plain cluster `outbound|<port>||<host>` and one per DestinationRule subset, with the rule's policy.
      for (const c of l7.clusters(svc, port, this.#lookup)) {
        out.push(
          new EncodedResource(TYPE_URL.cluster, c.cluster.name!, v3.cluster.v3.Cluster.encode(c.cluster).finish()),
          new EncodedResource(TYPE_URL.endpoint, c.cluster.name!, v3.endpoint.v3.ClusterLoadAssignment.encode(c.endpoints).finish()),
        );
      }
    }
    return out.map((r) => keep(old.find((o) => o.typeUrl === r.typeUrl && o.name === r.name), r));
  }

  #joinHost(host: string, key: string): void {
    const g = this.#hosts.get(host);
    if (g) g.keys = [...g.keys, key].sort();
    else this.#hosts.set(host, { keys: [key], out: EMPTY });
  }

  #leaveHost(host: string, key: string): void {
    const g = this.#hosts.get(host);
    if (g) g.keys = g.keys.filter((k) => k !== key);
  }

  /**
   * The Envoy resources of a hostname: their names come from the hostname, so two services naming one
   * host (ServiceEntries in two namespaces) make the same names; the later key wins, name by name.
   */
  #publishHost(host: string, out: ResourceChanges): void {
    const g = this.#hosts.get(host);
    if (!g) return;
    let next: readonly EncodedResource[];
    if (g.keys.length === 1) next = this.#services.get(g.keys[0]!)?.envoy ?? EMPTY;
    else {
      const merged = new Map<string, EncodedResource>();
      for (const key of g.keys) for (const r of this.#services.get(key)?.envoy ?? EMPTY) merged.set(`${r.typeUrl}\0${r.name}`, r);
      next = [...merged.values()];
    }
    out.replace(g.out, next);
    g.out = next;
    if (g.keys.length === 0) this.#hosts.delete(host);
  }
}

/** What resources read besides their own object: mesh network and domain suffix, and each waypoint's service. */
function contextKey(snapshot: MeshSnapshot, servicesByName: () => ReadonlyMap<string, ServiceInfo>): string {
  let key = `${snapshot.mesh.network}\0${snapshot.mesh.domainSuffix}`;
  for (const g of snapshot.resources.get('Gateway') ?? EMPTY) {
    if ((g.spec as { gatewayClassName?: string }).gatewayClassName !== WAYPOINT_CLASS) continue;
    const ref = `${g.metadata.namespace}/${g.metadata.name}`;
    const svc = servicesByName().get(ref);
    key += `\0${ref}=${svc?.hostname ?? ''}/${svc?.addresses.join(',') ?? ''}`;
  }
  return key;
}

/** What of a service the L7 translation reads besides its endpoints. */
function serviceShape(s: ServiceInfo): string {
  return `${s.hostname}|${s.addresses.join(',')}|${s.ports.map((p) => `${p.name}/${p.port}/${p.protocol}/${p.appProtocol ?? ''}`).join(',')}|${s.waypoint ? `${s.waypoint.namespace}/${s.waypoint.name}` : ''}|${s.resolution ?? ''}`;
}

/** What differs from the list translated last: the Store's account of it when it starts from that list, else a comparison. */
function changesOf<T>(before: readonly T[], now: readonly T[], told: ListChanges<T> | undefined): { removed: readonly T[]; added: readonly T[] } {
  return told && told.before === before ? told : diffList(before, now);
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

/** Translation warnings as the one-line messages `weft analyze` prints. */
export function formatWarnings(r: XdsResources): string[] {
  return r.warnings.map(formatIssue);
}
