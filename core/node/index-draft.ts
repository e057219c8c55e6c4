/**
 * The next NodeIndexes, built from the current ones without touching them: changes are collected
 * per index and applied with LayeredMap.with (core/xds/layered-map.ts), which shares the large base
 * with the previous version, so one changed workload in 10,000 costs the change, not a copy.
 * Endpoint sets per service are LayeredMaps too (one service may have thousands).
 */
import type { CompiledPolicy } from '../policy/model.ts';
import { LayeredMap } from '../xds/layered-map.ts';
import type { HeldResource, NodeEndpoint, NodeService, NodeWorkload } from './model.ts';
import type { NodeIndexes } from './state.ts';

/** Reads through pending changes to a base map; `finish` publishes base + changes. */
class Pending<V> {
  readonly changes = new Map<string, V | undefined>();
  constructor(readonly base: LayeredMap<V>) {}
  get(k: string): V | undefined {
    return this.changes.has(k) ? this.changes.get(k) : this.base.get(k);
  }
  set(k: string, v: V | undefined): void {
    this.changes.set(k, v);
  }
  finish(): LayeredMap<V> {
    return this.base.with(this.changes);
  }
}

const EMPTY_ENDPOINTS = new LayeredMap<NodeEndpoint>();

export class IndexDraft {
  readonly #addresses: Pending<HeldResource>;
  readonly #authorizations: Pending<CompiledPolicy>;
  readonly #workloadsByUid: Pending<NodeWorkload>;
  readonly #workloadsByIp: Pending<readonly NodeWorkload[]>;
  readonly #servicesByKey: Pending<NodeService>;
  readonly #servicesByVip: Pending<readonly NodeService[]>;
  readonly #servicesByHostname: Pending<readonly NodeService[]>;
  readonly #endpoints: Pending<LayeredMap<NodeEndpoint>>;
  readonly #policies: Pending<CompiledPolicy>;
  readonly #scopedPolicies: Pending<readonly string[]>;
  /** Per service key: endpoint changes by workload uid. */
  readonly #endpointChanges = new Map<string, Pending<NodeEndpoint>>();
  #serviceRanges: readonly NodeService[];
  touched = false;

  constructor(base: NodeIndexes) {
    this.#addresses = new Pending(base.addresses);
    this.#authorizations = new Pending(base.authorizations);
    this.#workloadsByUid = new Pending(base.workloadsByUid);
    this.#workloadsByIp = new Pending(base.workloadsByIp);
    this.#servicesByKey = new Pending(base.servicesByKey);
    this.#servicesByVip = new Pending(base.servicesByVip);
    this.#servicesByHostname = new Pending(base.servicesByHostname);
    this.#endpoints = new Pending(base.endpoints);
    this.#policies = new Pending(base.policies);
    this.#scopedPolicies = new Pending(base.scopedPolicies);
    this.#serviceRanges = base.serviceRanges;
  }

  finish(): NodeIndexes {
    for (const [key, eps] of this.#endpointChanges) {
      const next = eps.finish();
      this.#endpoints.set(key, next.size ? next : undefined);
    }
    return {
      addresses: this.#addresses.finish(),
      authorizations: this.#authorizations.finish(),
      workloadsByUid: this.#workloadsByUid.finish(),
      workloadsByIp: this.#workloadsByIp.finish(),
      servicesByKey: this.#servicesByKey.finish(),
      servicesByVip: this.#servicesByVip.finish(),
      serviceRanges: this.#serviceRanges,
      servicesByHostname: this.#servicesByHostname.finish(),
      endpoints: this.#endpoints.finish(),
      policies: this.#policies.finish(),
      scopedPolicies: this.#scopedPolicies.finish(),
    };
  }

  removeAddress(name: string): void {
    const held = this.#addresses.get(name);
    if (!held) return;
    this.touched = true;
    this.#addresses.set(name, undefined);
    if (held.kind === 'workload') this.#unindexWorkload(held.value);
    else if (held.kind === 'service') this.#unindexService(held.value);
  }

  putWorkload(name: string, w: NodeWorkload): void {
    this.removeAddress(name);
    this.touched = true;
    this.#addresses.set(name, { kind: 'workload', value: w });
    this.#workloadsByUid.set(w.uid, w);
    for (const ip of w.addresses) {
      const key = `${w.network}/${ip}`;
      this.#workloadsByIp.set(key, [w, ...(this.#workloadsByIp.get(key) ?? []).filter((x) => x.uid !== w.uid)]);
    }
    for (const [svc, ports] of w.services) this.#endpointsOf(svc).set(w.uid, { workload: w, ports });
  }

  #unindexWorkload(w: NodeWorkload): void {
    if (this.#workloadsByUid.get(w.uid) === w) this.#workloadsByUid.set(w.uid, undefined);
    for (const ip of w.addresses) dropFrom(this.#workloadsByIp, `${w.network}/${ip}`, w);
    for (const svc of w.services.keys()) {
      const eps = this.#endpointsOf(svc);
      if (eps.get(w.uid)?.workload === w) eps.set(w.uid, undefined);
    }
  }

  #endpointsOf(serviceKey: string): Pending<NodeEndpoint> {
    let p = this.#endpointChanges.get(serviceKey);
    if (!p) this.#endpointChanges.set(serviceKey, (p = new Pending(this.#endpoints.get(serviceKey) ?? EMPTY_ENDPOINTS)));
    return p;
  }

  putService(name: string, s: NodeService): void {
    this.removeAddress(name);
    this.touched = true;
    this.#addresses.set(name, { kind: 'service', value: s });
    this.#servicesByKey.set(s.key, s);
    for (const v of s.vips) {
      if (isRange(v)) continue;
      const key = `${v.network}/${v.ip}`;
      this.#servicesByVip.set(key, [s, ...(this.#servicesByVip.get(key) ?? []).filter((x) => x.key !== s.key)]);
    }
    if (s.vips.some(isRange)) this.#serviceRanges = [...this.#serviceRanges.filter((x) => x.key !== s.key), s];
    const host = s.hostname.toLowerCase();
    this.#servicesByHostname.set(host, [s, ...(this.#servicesByHostname.get(host) ?? []).filter((x) => x.key !== s.key)]);
  }

  #unindexService(s: NodeService): void {
    if (this.#servicesByKey.get(s.key) === s) this.#servicesByKey.set(s.key, undefined);
    for (const v of s.vips) dropFrom(this.#servicesByVip, `${v.network}/${v.ip}`, s);
    if (this.#serviceRanges.includes(s)) this.#serviceRanges = this.#serviceRanges.filter((x) => x !== s);
    dropFrom(this.#servicesByHostname, s.hostname.toLowerCase(), s);
  }

  putPolicy(name: string, p: CompiledPolicy): void {
    this.removePolicy(name);
    this.touched = true;
    this.#authorizations.set(name, p);
    this.#policies.set(p.key, p);
    const scope = p.scope === 'GLOBAL' ? '' : p.scope === 'NAMESPACE' ? p.namespace : undefined;
    if (scope !== undefined) this.#scopedPolicies.set(scope, [...(this.#scopedPolicies.get(scope) ?? []).filter((k) => k !== p.key), p.key]);
  }

  removePolicy(name: string): void {
    const p = this.#authorizations.get(name);
    if (!p) return;
    this.touched = true;
    this.#authorizations.set(name, undefined);
    if (this.#policies.get(p.key) !== p) return;
    this.#policies.set(p.key, undefined);
    for (const scope of ['', p.namespace]) dropFrom(this.#scopedPolicies, scope, p.key);
  }
}

function isRange(v: { ip: string; length: number }): boolean {
  return v.length < (v.ip.includes(':') ? 128 : 32);
}

/** Removes `item` from the list under `key`, dropping the key when the list empties. */
function dropFrom<T>(index: Pending<readonly T[]>, key: string, item: T): void {
  const list = index.get(key);
  if (!list?.includes(item)) return;
  const rest = list.filter((x) => x !== item);
  index.set(key, rest.length ? rest : undefined);
}
