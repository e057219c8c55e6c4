/**
 * NodeState: one immutable view of what a node proxy knows (workloads, services, endpoints,
 * policies, mesh settings), built by NodeStateStore (store.ts) and swapped as a whole per update
 * (conventions.md 2). Lookups only; planners (plan.ts) and the admin dump read it.
 * IP lookups are network-aware: the same IP on two networks is two different places.
 */
import type { ApplicablePolicies } from '../policy/evaluate.ts';
import { inCidr, ipBytes } from '../policy/match.ts';
import type { CompiledPolicy } from '../policy/model.ts';
import { formatIp } from '../net/ip.ts';
import { LayeredMap } from '../xds/layered-map.ts';
import type { HeldResource, NodeEndpoint, NodeMeshSettings, NodeService, NodeWorkload } from './model.ts';

/** The maps a NodeState reads: LayeredMaps, so the next version shares what an update leaves alone. */
export interface NodeIndexes {
  /** Address resources by resource name (uid or `<ns>/<hostname>`). */
  readonly addresses: LayeredMap<HeldResource>;
  /** Authorization resources by resource name. */
  readonly authorizations: LayeredMap<CompiledPolicy>;
  readonly workloadsByUid: LayeredMap<NodeWorkload>;
  /** `<network>/<ip>` -> workloads, most recent first (an IP briefly held by two pods). */
  readonly workloadsByIp: LayeredMap<readonly NodeWorkload[]>;
  readonly servicesByKey: LayeredMap<NodeService>;
  /** `<network>/<ip>` of each full-length VIP -> services. */
  readonly servicesByVip: LayeredMap<readonly NodeService[]>;
  /** Services with address ranges (ServiceEntry CIDRs), scanned after the exact VIPs. */
  readonly serviceRanges: readonly NodeService[];
  readonly servicesByHostname: LayeredMap<readonly NodeService[]>;
  /** Service key -> workload uid -> endpoint (kept for services not received yet). */
  readonly endpoints: LayeredMap<LayeredMap<NodeEndpoint>>;
  /** Policies by `<ns>/<name>`. */
  readonly policies: LayeredMap<CompiledPolicy>;
  /** NAMESPACE-scoped policy keys by namespace; GLOBAL ones under ''. */
  readonly scopedPolicies: LayeredMap<readonly string[]>;
}

export const EMPTY_INDEXES: NodeIndexes = {
  addresses: new LayeredMap(),
  authorizations: new LayeredMap(),
  workloadsByUid: new LayeredMap(),
  workloadsByIp: new LayeredMap(),
  servicesByKey: new LayeredMap(),
  servicesByVip: new LayeredMap(),
  serviceRanges: [],
  servicesByHostname: new LayeredMap(),
  endpoints: new LayeredMap(),
  policies: new LayeredMap(),
  scopedPolicies: new LayeredMap(),
};

/** Canonical `<network>/<ip>` key; undefined when `ip` is not an IP literal. */
export function ipKey(network: string, ip: string): string | undefined {
  const b = ipBytes(ip);
  return b ? `${network}/${formatIp(b)}` : undefined;
}

/** Sorted endpoint lists by endpoint set, shared by the states of one store (a set an update leaves alone keeps its list). */
export type EndpointListCache = WeakMap<object, readonly NodeEndpoint[]>;

export class NodeState {
  readonly #endpointLists: EndpointListCache;

  constructor(
    /** Increases by one per applied update. */
    readonly version: number,
    readonly mesh: NodeMeshSettings,
    readonly indexes: NodeIndexes,
    endpointLists: EndpointListCache = new WeakMap(),
  ) {
    this.#endpointLists = endpointLists;
  }

  /** The same indexes under other settings or a new version (what the store swaps in). */
  derive(version: number, mesh: NodeMeshSettings, indexes: NodeIndexes): NodeState {
    return new NodeState(version, mesh, indexes, this.#endpointLists);
  }

  get outboundPolicy(): NodeMeshSettings['outboundPolicy'] {
    return this.mesh.outboundPolicy;
  }

  workloadByUid(uid: string): NodeWorkload | undefined {
    return this.indexes.workloadsByUid.get(uid);
  }

  workloadByIp(ip: string, network = this.mesh.network): NodeWorkload | undefined {
    const key = ipKey(network, ip);
    return key === undefined ? undefined : this.indexes.workloadsByIp.get(key)?.[0];
  }

  serviceByKey(key: string): NodeService | undefined {
    return this.indexes.servicesByKey.get(key);
  }

  /**
   * The service at a VIP; with `port`, the one declaring that port when several share the VIP
   * (ServiceEntries may). Address ranges are tried after exact VIPs.
   */
  serviceByVip(ip: string, port?: number, network = this.mesh.network): NodeService | undefined {
    const key = ipKey(network, ip);
    if (key === undefined) return undefined;
    const exact = this.indexes.servicesByVip.get(key);
    if (exact?.length) return (port !== undefined && exact.find((s) => s.ports.has(port))) || exact[0];
    const bytes = ipBytes(ip);
    let fallback: NodeService | undefined;
    for (const s of this.indexes.serviceRanges) {
      for (const v of s.vips) {
        if (v.network !== network || !inCidr({ address: ipBytes(v.ip)!, length: v.length }, bytes)) continue;
        if (port === undefined || s.ports.has(port)) return s;
        fallback ??= s;
      }
    }
    return fallback;
  }

  /** Services with this hostname (a ServiceEntry host may exist in several namespaces). */
  servicesByHostname(hostname: string): readonly NodeService[] {
    return this.indexes.servicesByHostname.get(hostname.toLowerCase()) ?? [];
  }

  /** The endpoints of a service, in uid order (a stable order for balancers). */
  endpoints(serviceKey: string): readonly NodeEndpoint[] {
    const set = this.indexes.endpoints.get(serviceKey);
    if (!set) return [];
    let list = this.#endpointLists.get(set);
    if (!list) {
      list = [...set.values()].sort((a, b) => (a.workload.uid < b.workload.uid ? -1 : 1));
      this.#endpointLists.set(set, list);
    }
    return list;
  }

  policy(key: string): CompiledPolicy | undefined {
    return this.indexes.policies.get(key);
  }

  /** GLOBAL policies, its namespace's NAMESPACE policies and those it names (ztunnel's selection). */
  policiesFor(w: NodeWorkload): ApplicablePolicies {
    const keys = new Set([...(this.indexes.scopedPolicies.get('') ?? []), ...(this.indexes.scopedPolicies.get(w.namespace) ?? []), ...w.authorizationPolicies]);
    const policies: CompiledPolicy[] = [];
    const missing: string[] = [];
    for (const k of keys) {
      const p = this.indexes.policies.get(k);
      if (p) policies.push(p);
      else missing.push(k);
    }
    return missing.length ? { policies, missing } : { policies };
  }

  workloads(): IterableIterator<NodeWorkload> {
    return this.indexes.workloadsByUid.values();
  }

  services(): IterableIterator<NodeService> {
    return this.indexes.servicesByKey.values();
  }

  policyList(): IterableIterator<CompiledPolicy> {
    return this.indexes.policies.values();
  }

  /** Workloads this proxy serves (those whose `node` is this proxy's node name). */
  localWorkloads(): NodeWorkload[] {
    return [...this.workloads()].filter((w) => w.node === this.mesh.nodeName);
  }
}
