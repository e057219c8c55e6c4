/**
 * The next NodeIndexes, built from the current ones by copy-on-write: a map is copied the first
 * time an update touches it (an endpoint set per service likewise), never mutated in place, so
 * the NodeState readers hold stays whole while the next one is built.
 */
import type { CompiledPolicy } from '../policy/model.ts';
import type { NodeEndpoint, NodeService, NodeWorkload } from './model.ts';
import type { NodeIndexes } from './state.ts';

type MapKeys = { [K in keyof NodeIndexes]: NodeIndexes[K] extends ReadonlyMap<string, unknown> ? K : never }[keyof NodeIndexes];
type Writable<K extends MapKeys> = NodeIndexes[K] extends ReadonlyMap<string, infer V> ? Map<string, V> : never;

export class IndexDraft {
  readonly #base: NodeIndexes;
  readonly #next: { -readonly [K in keyof NodeIndexes]: NodeIndexes[K] };
  readonly #copied = new Set<MapKeys>();
  readonly #ownEndpoints = new Set<string>();
  touched = false;

  constructor(base: NodeIndexes) {
    this.#base = base;
    this.#next = { ...base };
  }

  #m<K extends MapKeys>(k: K): Writable<K> {
    if (!this.#copied.has(k)) {
      (this.#next as Record<string, unknown>)[k] = new Map(this.#base[k] as ReadonlyMap<string, unknown>);
      this.#copied.add(k);
    }
    return this.#next[k] as Writable<K>;
  }

  finish(): NodeIndexes {
    return this.#next;
  }

  removeAddress(name: string): void {
    const held = this.#next.addresses.get(name);
    if (!held) return;
    this.touched = true;
    this.#m('addresses').delete(name);
    if (held.kind === 'workload') this.#unindexWorkload(held.value);
    else if (held.kind === 'service') this.#unindexService(held.value);
  }

  putWorkload(name: string, w: NodeWorkload): void {
    this.removeAddress(name);
    this.touched = true;
    this.#m('addresses').set(name, { kind: 'workload', value: w });
    this.#m('workloadsByUid').set(w.uid, w);
    const byIp = this.#m('workloadsByIp');
    for (const ip of w.addresses) {
      const key = `${w.network}/${ip}`;
      byIp.set(key, [w, ...(byIp.get(key) ?? []).filter((x) => x.uid !== w.uid)]);
    }
    for (const [svc, ports] of w.services) this.#endpointsOf(svc).set(w.uid, { workload: w, ports });
  }

  #unindexWorkload(w: NodeWorkload): void {
    if (this.#next.workloadsByUid.get(w.uid) === w) this.#m('workloadsByUid').delete(w.uid);
    const byIp = this.#m('workloadsByIp');
    for (const ip of w.addresses) {
      const key = `${w.network}/${ip}`;
      const rest = (byIp.get(key) ?? []).filter((x) => x !== w);
      if (rest.length) byIp.set(key, rest);
      else byIp.delete(key);
    }
    for (const svc of w.services.keys()) {
      const eps = this.#endpointsOf(svc);
      if (eps.get(w.uid)?.workload === w) eps.delete(w.uid);
      if (eps.size === 0) this.#m('endpoints').delete(svc);
    }
  }

  #endpointsOf(serviceKey: string): Map<string, NodeEndpoint> {
    const outer = this.#m('endpoints');
    let inner = outer.get(serviceKey) as Map<string, NodeEndpoint> | undefined;
    if (!inner || !this.#ownEndpoints.has(serviceKey)) {
      inner = new Map(inner ?? []);
      outer.set(serviceKey, inner);
      this.#ownEndpoints.add(serviceKey);
    }
    return inner;
  }

  putService(name: string, s: NodeService): void {
    this.removeAddress(name);
    this.touched = true;
    this.#m('addresses').set(name, { kind: 'service', value: s });
    this.#m('servicesByKey').set(s.key, s);
    const byVip = this.#m('servicesByVip');
    for (const v of s.vips) {
      if (v.length < (v.ip.includes(':') ? 128 : 32)) continue;
      const key = `${v.network}/${v.ip}`;
      byVip.set(key, [s, ...(byVip.get(key) ?? []).filter((x) => x.key !== s.key)]);
    }
    if (s.vips.some((v) => v.length < (v.ip.includes(':') ? 128 : 32))) {
      this.#next.serviceRanges = [...this.#next.serviceRanges.filter((x) => x.key !== s.key), s];
    }
    const byHost = this.#m('servicesByHostname');
    const host = s.hostname.toLowerCase();
    byHost.set(host, [s, ...(byHost.get(host) ?? []).filter((x) => x.key !== s.key)]);
  }

  #unindexService(s: NodeService): void {
    if (this.#next.servicesByKey.get(s.key) === s) this.#m('servicesByKey').delete(s.key);
    const byVip = this.#m('servicesByVip');
    for (const v of s.vips) {
      const key = `${v.network}/${v.ip}`;
      const rest = (byVip.get(key) ?? []).filter((x) => x !== s);
      if (rest.length) byVip.set(key, rest);
      else byVip.delete(key);
    }
    if (this.#next.serviceRanges.includes(s)) this.#next.serviceRanges = this.#next.serviceRanges.filter((x) => x !== s);
    const byHost = this.#m('servicesByHostname');
    const host = s.hostname.toLowerCase();
    const rest = (byHost.get(host) ?? []).filter((x) => x !== s);
    if (rest.length) byHost.set(host, rest);
    else byHost.delete(host);
  }

  putPolicy(name: string, p: CompiledPolicy): void {
    this.removePolicy(name);
    this.touched = true;
    this.#m('authorizations').set(name, p);
    this.#m('policies').set(p.key, p);
    const scope = p.scope === 'GLOBAL' ? '' : p.scope === 'NAMESPACE' ? p.namespace : undefined;
    if (scope === undefined) return;
    const scoped = this.#m('scopedPolicies');
    scoped.set(scope, [...(scoped.get(scope) ?? []).filter((k) => k !== p.key), p.key]);
  }

  removePolicy(name: string): void {
    const p = this.#next.authorizations.get(name);
    if (!p) return;
    this.touched = true;
    this.#m('authorizations').delete(name);
    if (this.#next.policies.get(p.key) === p) this.#m('policies').delete(p.key);
    const scoped = this.#m('scopedPolicies');
    for (const scope of ['', p.namespace]) {
      const rest = (scoped.get(scope) ?? []).filter((k) => k !== p.key || this.#next.policies.has(k));
      if (rest.length) scoped.set(scope, rest);
      else scoped.delete(scope);
    }
  }
}
