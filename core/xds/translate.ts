/**
 * MeshSnapshot -> every xDS resource Weft serves, encoded once per snapshot and shared by all
 * streams. Results are cached per snapshot object (a ServiceInfo or WorkloadInfo that the Store
 * carried over unchanged is not encoded again) and checked by a key of whatever else the resource
 * depends on; an object that changed is re-encoded, and its content hash decides whether it is new.
 */
import { formatIssue } from '../config/issues.ts';
import type { ConfigIssue } from '../config/issues.ts';
import type { ConfigResource, MeshSnapshot, ServiceInfo, WorkloadInfo } from '../config/snapshot.ts';
import { selectorMatches, translateAuthorizationPolicy } from './authorization.ts';
import type { AuthorizationPolicySpec } from './authorization.ts';
import { EncodedResource } from './encoded-resource.ts';
import type { ResourceMap } from './encoded-resource.ts';
import { apiListener, edsCluster, listenerName, loadAssignment, routeConfiguration, tcpPorts, clusterName } from './envoy-resources.ts';
import { envoy, istio } from './pb.ts';
import { TYPE_URL } from './type-urls.ts';
import { serviceAddress, workloadAddress, workloadServicePorts } from './workload-api.ts';
import type { WorkloadApiContext } from './workload-api.ts';

/** Istio's default root namespace (MeshConfig.rootNamespace): its selector-less policies are mesh-wide. */
export const DEFAULT_ROOT_NAMESPACE = 'istio-system';

export interface XdsResources {
  /** The snapshot version, as xDS version_info / system_version_info. */
  readonly version: string;
  readonly resources: ResourceMap;
  /** Policies node proxies cannot enforce as written, for status and `weft analyze`. */
  readonly warnings: readonly ConfigIssue[];
}

interface Cached {
  key: string;
  out: readonly EncodedResource[];
}

export class XdsTranslator {
  readonly #rootNamespace: string;
  #workloads = new WeakMap<WorkloadInfo, Cached>();
  #serviceAddresses = new WeakMap<ServiceInfo, Cached>();
  #envoy = new WeakMap<ServiceInfo, Cached>();
  #policies = new WeakMap<ConfigResource, { key: string; result: ReturnType<typeof translateAuthorizationPolicy>; res?: EncodedResource }>();

  constructor(opts: { rootNamespace?: string } = {}) {
    this.#rootNamespace = opts.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  }

  translate(snapshot: MeshSnapshot): XdsResources {
    const mesh = snapshot.mesh;
    const rootNs = (mesh as { rootNamespace?: string }).rootNamespace || this.#rootNamespace;
    const meshKey = `${mesh.network}|${mesh.domainSuffix}`;
    const types = new Map<string, Map<string, EncodedResource>>(Object.values(TYPE_URL).map((t) => [t, new Map()]));
    const add = (r: EncodedResource): void => void types.get(r.typeUrl)!.set(r.name, r);
    const warnings: ConfigIssue[] = [];

    // Authorization policies first: selector policies are listed on the workloads they select.
    const selectorPolicies: { key: string; namespace: string; spec: AuthorizationPolicySpec }[] = [];
    for (const res of snapshot.resources.get('AuthorizationPolicy') ?? []) {
      const { namespace, name } = res.metadata;
      let hit = this.#policies.get(res);
      if (!hit || hit.key !== rootNs) {
        const result = translateAuthorizationPolicy(namespace, name, res.spec as AuthorizationPolicySpec, rootNs);
        const res2 = result.authorization
          ? new EncodedResource(TYPE_URL.authorization, `${namespace}/${name}`, istio.security.Authorization.encode(result.authorization).finish())
          : undefined;
        hit = { key: rootNs, result, res: res2 };
        this.#policies.set(res, hit);
      }
      if (hit.result.warning) {
        warnings.push({ severity: 'warning', file: res.origin.file, line: res.origin.line, resource: { kind: res.kind, namespace, name }, path: '', message: hit.result.warning });
      }
      if (!hit.res) continue;
      add(hit.res);
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
      const key = `${meshKey}|${waypointKey(svc.waypoint)}`;
      const address = this.#cached(this.#serviceAddresses, svc, key, () => [
        new EncodedResource(TYPE_URL.address, svc.key, istio.workload.Address.encode(serviceAddress(svc, ctx)).finish()),
      ]);
      for (const r of address) add(r);
      // Endpoint localities and named ports come from the workloads, so they are part of the key.
      const epKey = svc.endpoints.map((ep) => endpointWorkloadKey(svc, workloadsByUid.get(ep.workloadUid))).join(';');
      for (const r of this.#cached(this.#envoy, svc, `${meshKey}|${epKey}`, () => this.#envoyFor(svc, snapshot, workloadsByUid))) add(r);
    }

    const servicePorts = workloadServicePorts(snapshot.services, workloadsByUid);
    for (const w of snapshot.workloads) {
      const policies = selectorPolicies
        .filter((p) => (p.namespace === w.namespace || p.namespace === rootNs) && selectorMatches(p.spec.selector, w.labels))
        .map((p) => p.key)
        .sort();
      const ports = servicePorts.get(w.uid) ?? new Map();
      const key = `${meshKey}|${waypointKey(w.waypoint)}|${policies.join(',')}|${JSON.stringify([...ports])}`;
      const address = this.#cached(this.#workloads, w, key, () => [
        new EncodedResource(TYPE_URL.address, w.uid, istio.workload.Address.encode(workloadAddress(w, ports, policies, ctx)).finish()),
      ]);
      for (const r of address) add(r);
    }

    return { version: String(snapshot.version), resources: types, warnings };
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

  #cached<T extends object>(cache: WeakMap<T, Cached>, obj: T, key: string, make: () => EncodedResource[]): readonly EncodedResource[] {
    const hit = cache.get(obj);
    if (hit && hit.key === key) return hit.out;
    const out = make();
    cache.set(obj, { key, out });
    return out;
  }
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
