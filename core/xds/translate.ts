/**
 * MeshSnapshot -> every xDS resource Weft serves, encoded once per snapshot and shared by all
 * streams, with what changed since the previous translation (so a push to many streams looks only
 * at the changed names).
 *
 * Encoding is the cost, so results are cached twice: by snapshot object (a ServiceInfo or
 * WorkloadInfo the Store carried over unchanged costs one lookup) and, when the object is new, by
 * its content (a rebuilt but equal object costs one JSON.stringify). Either way the key also holds
 * whatever else the resource depends on (policies, waypoints, mesh settings).
 */
import { formatIssue } from '../config/issues.ts';
import type { ConfigIssue } from '../config/issues.ts';
import type { ConfigResource, MeshSnapshot, ServiceInfo, WorkloadInfo } from '../config/snapshot.ts';
import { selectorMatches, translateAuthorizationPolicy } from './authorization.ts';
import type { AuthorizationPolicySpec } from './authorization.ts';
import { EncodedResource } from './encoded-resource.ts';
import type { ResourceMap } from './encoded-resource.ts';
import { apiListener, clusterName, edsCluster, listenerName, loadAssignment, routeConfiguration, tcpPorts } from './envoy-resources.ts';
import { envoy, istio } from './pb.ts';
import { TYPE_URL } from './type-urls.ts';
import { serviceAddress, workloadAddress, workloadServicePorts } from './workload-api.ts';
import type { WorkloadApiContext } from './workload-api.ts';

/** Istio's default root namespace (MeshConfig.rootNamespace): its selector-less policies are mesh-wide. */
export const DEFAULT_ROOT_NAMESPACE = 'istio-system';

export interface TypeChanges {
  /** Names added or whose version changed. */
  readonly changed: ReadonlySet<string>;
  readonly removed: ReadonlySet<string>;
}

export interface XdsResources {
  /** Sequence number of this translation within its translator. */
  readonly id: number;
  /** The snapshot version, as xDS version_info / system_version_info. */
  readonly version: string;
  readonly resources: ResourceMap;
  /** Against translation `sinceId` (absent for the first one). */
  readonly changes?: { readonly sinceId: number; readonly byType: ReadonlyMap<string, TypeChanges> };
  /** Policies node proxies cannot enforce as written, for status and `weft analyze`. */
  readonly warnings: readonly ConfigIssue[];
}

interface Entry {
  dep: string;
  content?: string;
  out: readonly EncodedResource[];
}

export class XdsTranslator {
  readonly #rootNamespace: string;
  /** One cache per kind: a ServiceInfo yields both its Address and its Envoy resources. */
  #byObject = { svc: new WeakMap<object, Entry>(), envoy: new WeakMap<object, Entry>(), wl: new WeakMap<object, Entry>() };
  #byName = new Map<string, Entry>();
  #nextByName = new Map<string, Entry>();
  #policies = new WeakMap<ConfigResource, { rootNs: string; result: ReturnType<typeof translateAuthorizationPolicy>; res?: EncodedResource }>();
  #last?: XdsResources;

  constructor(opts: { rootNamespace?: string } = {}) {
    this.#rootNamespace = opts.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  }

  translate(snapshot: MeshSnapshot): XdsResources {
    const mesh = snapshot.mesh;
    const rootNs = mesh.rootNamespace || this.#rootNamespace;
    const meshKey = `${mesh.network}|${mesh.domainSuffix}`;
    const types = new Map<string, Map<string, EncodedResource>>(Object.values(TYPE_URL).map((t) => [t, new Map()]));
    const add = (list: readonly EncodedResource[]): void => {
      for (const r of list) types.get(r.typeUrl)!.set(r.name, r);
    };
    const warnings: ConfigIssue[] = [];
    this.#nextByName = new Map();

    // Authorization policies first: selector policies are listed on the workloads they select.
    const selectorPolicies: { key: string; namespace: string; spec: AuthorizationPolicySpec }[] = [];
    for (const res of snapshot.resources.get('AuthorizationPolicy') ?? []) {
      const { namespace, name } = res.metadata;
      let hit = this.#policies.get(res);
      if (!hit || hit.rootNs !== rootNs) {
        const result = translateAuthorizationPolicy(namespace, name, res.spec as AuthorizationPolicySpec, rootNs);
        const encoded = result.authorization
          ? new EncodedResource(TYPE_URL.authorization, `${namespace}/${name}`, istio.security.Authorization.encode(result.authorization).finish())
          : undefined;
        hit = { rootNs, result, res: encoded };
        this.#policies.set(res, hit);
      }
      if (hit.result.warning) {
        warnings.push({ severity: 'warning', file: res.origin.file, line: res.origin.line, resource: { kind: res.kind, namespace, name }, path: '', message: hit.result.warning });
      }
      if (!hit.res) continue;
      add([hit.res]);
      if (hit.result.selected) selectorPolicies.push({ key: hit.res.name, namespace, spec: res.spec as AuthorizationPolicySpec });
    }

    const workloadsByUid = new Map(snapshot.workloads.map((w) => [w.uid, w]));
    const servicesByName = new Map(snapshot.services.map((s) => [`${s.namespace}/${s.name}`, s]));
    const ctx: WorkloadApiContext = { mesh, servicesByName };
    const waypointKey = (ref: { namespace: string; name: string } | undefined): string => {
      if (!ref) return '';
      const svc = servicesByName.get(`${ref.namespace}/${ref.name}`);
      return `${ref.namespace}/${ref.name}=${svc?.hostname ?? ''}/${svc?.addresses.join(',') ?? ''}`;
    };

    for (const svc of snapshot.services) {
      add(
        this.#cached('svc', svc.key, svc, `${meshKey}|${waypointKey(svc.waypoint)}`, () => [
          new EncodedResource(TYPE_URL.address, svc.key, istio.workload.Address.encode(serviceAddress(svc, ctx)).finish()),
        ]),
      );
      // Endpoint localities and named ports come from the workloads, so they are part of the key.
      let epKey = meshKey;
      for (const ep of svc.endpoints) epKey += `;${endpointWorkloadKey(svc, workloadsByUid.get(ep.workloadUid))}`;
      add(this.#cached('envoy', svc.key, svc, epKey, () => this.#envoyFor(svc, snapshot, workloadsByUid)));
    }

    const servicePorts = workloadServicePorts(snapshot.services, workloadsByUid);
    for (const w of snapshot.workloads) {
      const policies: string[] = [];
      for (const p of selectorPolicies) {
        if ((p.namespace === w.namespace || p.namespace === rootNs) && selectorMatches(p.spec.selector, w.labels)) policies.push(p.key);
      }
      policies.sort();
      const ports = servicePorts.get(w.uid) ?? new Map();
      let dep = `${meshKey}|${waypointKey(w.waypoint)}|${policies.join(',')}|`;
      for (const [key, list] of ports) {
        dep += `${key}=`;
        for (const p of list) dep += `${p.servicePort}>${p.targetPort},`;
      }
      add(
        this.#cached('wl', w.uid, w, dep, () => [
          new EncodedResource(TYPE_URL.address, w.uid, istio.workload.Address.encode(workloadAddress(w, ports, policies, ctx)).finish()),
        ]),
      );
    }

    this.#byName = this.#nextByName;
    const id = (this.#last?.id ?? 0) + 1;
    const out: XdsResources = { id, version: String(snapshot.version), resources: types, warnings };
    const last = this.#last;
    this.#last = last ? { ...out, changes: { sinceId: last.id, byType: diff(last.resources, types) } } : out;
    return this.#last;
  }

  #envoyFor(svc: ServiceInfo, snapshot: MeshSnapshot, workloadsByUid: ReadonlyMap<string, WorkloadInfo>): EncodedResource[] {
    const out: EncodedResource[] = [];
    const v3 = envoy.config;
    for (const port of tcpPorts(svc)) {
      const name = listenerName(svc.hostname, port.port);
      const cluster = clusterName(svc.hostname, port.port);
      out.push(
        new EncodedResource(TYPE_URL.listener, name, v3.listener.v3.Listener.encode(apiListener(svc, port.port)).finish()),
        new EncodedResource(TYPE_URL.route, name, v3.route.v3.RouteConfiguration.encode(routeConfiguration(svc, port.port, snapshot.mesh)).finish()),
        new EncodedResource(TYPE_URL.cluster, cluster, v3.cluster.v3.Cluster.encode(edsCluster(svc, port.port)).finish()),
        new EncodedResource(TYPE_URL.endpoint, cluster, v3.endpoint.v3.ClusterLoadAssignment.encode(loadAssignment(svc, port, workloadsByUid)).finish()),
      );
    }
    return out;
  }

  /** By object identity, else by content, else made (and remembered both ways). */
  #cached(kind: 'svc' | 'envoy' | 'wl', key: string, obj: object, dep: string, make: () => EncodedResource[]): readonly EncodedResource[] {
    const byObject = this.#byObject[kind];
    const name = `${kind}:${key}`;
    const hit = byObject.get(obj);
    let entry: Entry;
    if (hit && hit.dep === dep) {
      entry = hit;
    } else {
      const content = `${JSON.stringify(obj)}\u0000${dep}`;
      const prev = this.#byName.get(name);
      entry = prev && prev.content === content ? prev : { dep, content, out: make() };
      byObject.set(obj, { dep, content, out: entry.out });
    }
    this.#nextByName.set(name, entry);
    return entry.out;
  }
}

function diff(before: ResourceMap, after: ResourceMap): Map<string, TypeChanges> {
  const out = new Map<string, TypeChanges>();
  for (const [typeUrl, now] of after) {
    const then = before.get(typeUrl) ?? new Map();
    const changed = new Set<string>();
    const removed = new Set<string>();
    for (const [name, r] of now) if (then.get(name)?.version !== r.version) changed.add(name);
    for (const name of then.keys()) if (!now.has(name)) removed.add(name);
    out.set(typeUrl, { changed, removed });
  }
  return out;
}

/** What an endpoint's Envoy form takes from its workload: locality and named container ports. */
function endpointWorkloadKey(svc: ServiceInfo, w: WorkloadInfo | undefined): string {
  if (!w) return '';
  const l = w.locality;
  let key = l ? `${l.region}/${l.zone}/${l.subzone}` : '';
  for (const p of svc.ports) if (typeof p.targetPort === 'string') key += `,${w.namedPorts[p.targetPort] ?? ''}`;
  return key;
}

/** Translation warnings as the one-line messages `weft analyze` prints. */
export function formatWarnings(r: XdsResources): string[] {
  return r.warnings.map(formatIssue);
}
