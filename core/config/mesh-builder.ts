/**
 * The derived part of a snapshot (namespaces, workloads, services, reference warnings), built in
 * proportion to what changed. Between builds it keeps what it made, by the resource objects it made
 * them from (the Store keeps a resource's object while its text is unchanged), and two indexes: so a
 * moved endpoint makes one workload again, the services that select it (old or new labels) and the
 * WorkloadInfo of the workloads whose services or ports changed; everything else keeps its identity
 * (structural sharing, which the xDS translator's caches rely on, see snapshot.ts).
 *
 * Invariants a build keeps:
 * - a ServiceInfo is new whenever its resource, its context or any workload behind its endpoints is;
 * - a WorkloadInfo is new whenever its resource, its context, its services or, in any of them, its
 *   endpoint ports or the service's ports are;
 * - with an empty history the result is the plain full build (one code path, so both agree).
 * A change of context (mesh settings, namespaces, waypoint Gateways) rebuilds everything.
 */
import type { ConfigIssue } from './issues.ts';
import type { ConfigResource, EndpointInfo, MeshSettings, NamespaceInfo, ServiceInfo, ServicePortInfo, SnapshotChanges, WorkloadInfo } from './snapshot.ts';
import { BuildContext, LABELS, type LocateField } from './build-context.ts';
import { workloadFrom, type WorkloadBase } from './workloads.ts';
import { serviceInfos, serviceSelector, usesEndpointSlices } from './services.ts';
import { checkReferences } from './references.ts';
import { LabelIndex, SelectorIndex } from './label-index.ts';
import { diffList, type ListDiff } from './list-diff.ts';
import { stableStringify } from './stable-json.ts';

export interface BuiltMesh {
  namespaces: ReadonlyMap<string, NamespaceInfo>;
  services: readonly ServiceInfo[];
  workloads: readonly WorkloadInfo[];
  /** Warnings found while building (dangling references, pods without addresses...). */
  warnings: readonly ConfigIssue[];
  /** What this build changed in the lists of the build before. */
  changes: SnapshotChanges;
}

/** Per kind, the resources taken out of and put into the lists of the build before (the Store knows them). */
export interface ResourceChangesHint {
  before: Resources;
  byKind: ReadonlyMap<string, ListDiff<ConfigResource>>;
}

interface WorkloadSlot {
  base: WorkloadBase | undefined;
  warnings: ConfigIssue[];
}

interface ServiceSlot {
  res: ConfigResource;
  /** One per host (a ServiceEntry may name several), endpoints sorted. */
  infos: readonly ServiceInfo[];
  warnings: ConfigIssue[];
  /** Workload uids its EndpointSlices name (a Service without a selector). */
  sliceUids?: ReadonlySet<string>;
}

type Resources = ReadonlyMap<string, readonly ConfigResource[]>;

const WORKLOAD_KINDS = ['Pod', 'WorkloadEntry'];
const SERVICE_KINDS = ['Service', 'ServiceEntry'];
/** Kinds checkReferences does not read: a change of only these leaves its warnings as they were. */
const NOT_REFERENCED = new Set(['Pod', 'WorkloadEntry', 'EndpointSlice', 'Namespace']);
const EMPTY: readonly never[] = Object.freeze([]);
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class MeshBuilder {
  #resources: Resources = new Map();
  #meshKey = '';
  #ctxKey = '';
  #namespaces: ReadonlyMap<string, NamespaceInfo> = new Map();
  #namespacesKey = '';
  /** Resources per namespace, to tell when a namespace appears or empties. */
  readonly #nsCount = new Map<string, number>();
  #workloadSlots = new Map<ConfigResource, WorkloadSlot>();
  #byUid = new Map<string, WorkloadBase>();
  #labels = new LabelIndex<WorkloadBase>();
  #serviceSlots = new Map<ConfigResource, ServiceSlot>();
  #selectors = new SelectorIndex<ServiceSlot>();
  #sliceUsers = new Map<string, Set<ServiceSlot>>();
  #sliceServices = new Set<ServiceSlot>();
  #warned = new Set<WorkloadSlot | ServiceSlot>();
  /** Service keys each workload uid backs (sorted), and the WorkloadInfo made from them. */
  #servicesOf = new Map<string, readonly string[]>();
  #final = new Map<string, WorkloadInfo>();
  /**
   * Our own copies of the published (frozen) lists, patched in place: V8 copies a frozen array element
   * by element, 50 times slower than a plain one, so a change copies these instead.
   */
  #winnerList: ServiceInfo[] = [];
  #workloadList: WorkloadInfo[] = [];
  #refWarnings: ConfigIssue[] = [];
  #built?: BuiltMesh;
  readonly #select = (ns: string, selector: Readonly<Record<string, string>>) => this.#labels.select(ns, selector);

  build(mesh: MeshSettings, resources: Resources, locate?: LocateField, hint?: ResourceChangesHint): BuiltMesh {
    const prev = this.#resources;
    const changed = new Set<string>();
    for (const [k, list] of resources) if (prev.get(k) !== list) changed.add(k);
    for (const k of prev.keys()) if (!resources.has(k)) changed.add(k);
    const meshKey = stableStringify(mesh);
    if (this.#built && meshKey === this.#meshKey && changed.size === 0) return this.#unchanged(this.#built);

    const diffs = new Map<string, ListDiff<ConfigResource>>();
    const known = hint?.before === prev ? hint.byKind : undefined;
    for (const k of changed) diffs.set(k, known?.get(k) ?? diffList(prev.get(k) ?? EMPTY, resources.get(k) ?? EMPTY));
    const namespaces = this.#updateNamespaces(resources, diffs);
    const gateways = (resources.get('Gateway') ?? EMPTY).map((g) => [g.apiVersion, g.metadata.namespace, g.metadata.name, g.metadata.labels[LABELS.waypointFor], (g.spec as { gatewayClassName?: string }).gatewayClassName]);
    const ctxKey = JSON.stringify([meshKey, this.#namespacesKey, gateways]);
    const reset = !this.#built || ctxKey !== this.#ctxKey;
    if (reset) this.#clear();
    const diffOf = (kind: string): ListDiff<ConfigResource> => (reset ? { removed: [], added: [...(resources.get(kind) ?? EMPTY)] } : (diffs.get(kind) ?? { removed: [], added: [] }));
    const ctx = new BuildContext(resources, namespaces, mesh, locate);

    // Workloads whose resource changed; each uid's base before this build.
    const touched = new Set<string>();
    const oldBase = new Map<string, WorkloadBase>();
    for (const kind of WORKLOAD_KINDS) {
      const d = diffOf(kind);
      for (const r of d.removed) this.#dropWorkload(r, touched, oldBase);
      for (const r of d.added) this.#addWorkload(ctx, r, touched);
    }

    // Services to make again: those selecting a changed workload before or after, or naming it in slices.
    const dirty = new Set<ServiceSlot>();
    for (const uid of touched) {
      const before = oldBase.get(uid);
      const now = this.#byUid.get(uid);
      if (before) this.#selectors.matching(before.namespace, before.labels, dirty);
      if (now && now !== before) this.#selectors.matching(now.namespace, now.labels, dirty);
      for (const s of this.#sliceUsers.get(uid) ?? EMPTY) dirty.add(s);
    }
    if (changed.has('EndpointSlice')) for (const s of this.#sliceServices) dirty.add(s);
    let structural = reset;
    for (const kind of SERVICE_KINDS) {
      const d = diffOf(kind);
      for (const r of d.removed) {
        const slot = this.#serviceSlots.get(r);
        if (!slot) continue;
        this.#dropService(slot);
        dirty.delete(slot);
        structural = true;
      }
      for (const r of d.added) {
        this.#addService(this.#makeService(ctx, r));
        structural = true;
      }
    }
    const replaced = new Map<ServiceInfo, ServiceInfo>();
    for (const slot of dirty) {
      const next = this.#makeService(ctx, slot.res);
      this.#dropService(slot);
      this.#addService(next);
      if (next.infos.length !== slot.infos.length || next.infos.some((s, i) => s.key !== slot.infos[i]!.key)) structural = true;
      else slot.infos.forEach((s, i) => replaced.set(s, next.infos[i]!));
    }

    const oldWinners = reset ? EMPTY : (this.#built?.services ?? EMPTY);
    let winners = oldWinners;
    if (structural) winners = this.#winners(resources);
    else if (replaced.size > 0) {
      for (let i = 0; i < this.#winnerList.length; i++) this.#winnerList[i] = replaced.get(this.#winnerList[i]!) ?? this.#winnerList[i]!;
      winners = Object.freeze(this.#winnerList.slice());
    }
    const services = { before: this.#built?.services ?? EMPTY, removed: [] as ServiceInfo[], added: [] as ServiceInfo[] };
    for (const [before, after] of changedWinners(oldWinners, winners, structural)) {
      this.#rewire(before, after, touched);
      if (before) services.removed.push(before);
      if (after) services.added.push(after);
    }
    if (reset) services.removed = [...services.before];
    const workloads = { before: this.#built?.workloads ?? EMPTY, removed: [] as WorkloadInfo[], added: [] as WorkloadInfo[] };
    const workloadList = this.#workloads(reset ? EMPTY : workloads.before, touched, workloads);
    if (reset) workloads.removed = [...workloads.before];

    if (reset || [...changed].some((k) => !NOT_REFERENCED.has(k))) {
      const before = ctx.warnings.length;
      checkReferences(ctx, winners);
      this.#refWarnings = ctx.warnings.splice(before);
    }
    const warnings: ConfigIssue[] = [];
    for (const slot of this.#warned) warnings.push(...slot.warnings);
    warnings.push(...this.#refWarnings);

    this.#resources = resources;
    this.#meshKey = meshKey;
    this.#ctxKey = ctxKey;
    this.#built = { namespaces, services: winners, workloads: workloadList, warnings, changes: { services, workloads } };
    return this.#built;
  }

  #unchanged(built: BuiltMesh): BuiltMesh {
    return (this.#built = unchanged(built));
  }

  #clear(): void {
    this.#workloadSlots = new Map();
    this.#byUid = new Map();
    this.#labels = new LabelIndex();
    this.#serviceSlots = new Map();
    this.#selectors = new SelectorIndex();
    this.#sliceUsers = new Map();
    this.#sliceServices = new Set();
    this.#warned = new Set();
    this.#servicesOf = new Map();
    this.#final = new Map();
  }

  /** Declared namespaces with their labels, plus every namespace a resource lives in (Kubernetes' `default` among them). */
  #updateNamespaces(resources: Resources, diffs: ReadonlyMap<string, ListDiff<ConfigResource>>): ReadonlyMap<string, NamespaceInfo> {
    let dirty = !this.#built || diffs.has('Namespace');
    // Additions first, so a replaced resource never looks like the last of its namespace going away.
    for (const d of diffs.values()) {
      for (const r of d.added) {
        const ns = r.metadata.namespace;
        if (!ns) continue;
        const n = (this.#nsCount.get(ns) ?? 0) + 1;
        this.#nsCount.set(ns, n);
        if (n === 1) dirty = true;
      }
    }
    for (const d of diffs.values()) {
      for (const r of d.removed) {
        const ns = r.metadata.namespace;
        if (!ns) continue;
        const n = (this.#nsCount.get(ns) ?? 0) - 1;
        if (n > 0) this.#nsCount.set(ns, n);
        else {
          this.#nsCount.delete(ns);
          dirty = true;
        }
      }
    }
    if (!dirty) return this.#namespaces;
    const labels = new Map<string, Record<string, string>>();
    for (const ns of resources.get('Namespace') ?? EMPTY) labels.set(ns.metadata.name, { ...ns.metadata.labels });
    for (const ns of this.#nsCount.keys()) if (!labels.has(ns)) labels.set(ns, {});
    const out = new Map<string, NamespaceInfo>();
    for (const name of [...labels.keys()].sort()) {
      // The API server adds this label to every namespace; Gateway API namespace selectors rely on it.
      out.set(name, Object.freeze({ name, labels: Object.freeze({ ...labels.get(name), 'kubernetes.io/metadata.name': name }) }));
    }
    const key = JSON.stringify([...out.values()]);
    if (key !== this.#namespacesKey) {
      this.#namespaces = out;
      this.#namespacesKey = key;
    }
    return this.#namespaces;
  }

  #addWorkload(ctx: BuildContext, res: ConfigResource, touched: Set<string>): void {
    const before = ctx.warnings.length;
    const base = workloadFrom(ctx, res);
    const slot: WorkloadSlot = { base, warnings: ctx.warnings.splice(before) };
    this.#workloadSlots.set(res, slot);
    if (slot.warnings.length > 0) this.#warned.add(slot);
    if (!base) return;
    this.#byUid.set(base.uid, base);
    this.#labels.add(base);
    touched.add(base.uid);
  }

  #dropWorkload(res: ConfigResource, touched: Set<string>, oldBase: Map<string, WorkloadBase>): void {
    const slot = this.#workloadSlots.get(res);
    if (!slot) return;
    this.#workloadSlots.delete(res);
    this.#warned.delete(slot);
    const base = slot.base;
    if (!base) return;
    if (!oldBase.has(base.uid)) oldBase.set(base.uid, base);
    if (this.#byUid.get(base.uid) === base) this.#byUid.delete(base.uid);
    this.#labels.delete(base);
    touched.add(base.uid);
  }

  #makeService(ctx: BuildContext, res: ConfigResource): ServiceSlot {
    const before = ctx.warnings.length;
    const infos = serviceInfos(ctx, res, this.#select);
    const slot: ServiceSlot = { res, infos, warnings: ctx.warnings.splice(before) };
    if (usesEndpointSlices(res)) slot.sliceUids = new Set(infos.flatMap((s) => s.endpoints.map((e) => e.workloadUid)));
    return slot;
  }

  #addService(slot: ServiceSlot): void {
    this.#serviceSlots.set(slot.res, slot);
    const selector = serviceSelector(slot.res);
    if (selector) this.#selectors.add(slot, slot.res.metadata.namespace, selector);
    if (slot.warnings.length > 0) this.#warned.add(slot);
    if (!slot.sliceUids) return;
    this.#sliceServices.add(slot);
    for (const uid of slot.sliceUids) {
      const users = this.#sliceUsers.get(uid);
      if (users) users.add(slot);
      else this.#sliceUsers.set(uid, new Set([slot]));
    }
  }

  #dropService(slot: ServiceSlot): void {
    if (this.#serviceSlots.get(slot.res) === slot) this.#serviceSlots.delete(slot.res);
    this.#selectors.delete(slot);
    this.#warned.delete(slot);
    this.#sliceServices.delete(slot);
    for (const uid of slot.sliceUids ?? EMPTY) {
      const users = this.#sliceUsers.get(uid);
      users?.delete(slot);
      if (users?.size === 0) this.#sliceUsers.delete(uid);
    }
  }

  /** Every service sorted by key; of two with one key (two ServiceEntries naming a host) the first wins, as in Istio's registry. */
  #winners(resources: Resources): readonly ServiceInfo[] {
    const all: ServiceInfo[] = [];
    for (const kind of SERVICE_KINDS) for (const r of resources.get(kind) ?? EMPTY) all.push(...this.#serviceSlots.get(r)!.infos);
    all.sort((a, b) => byText(a.key, b.key));
    const out: ServiceInfo[] = [];
    for (const s of all) if (out.length === 0 || out[out.length - 1]!.key !== s.key) out.push(s);
    this.#winnerList = out;
    return Object.freeze(out.slice());
  }

  /** Keeps the services each workload backs up to date; marks the workloads whose Address reads differ. */
  #rewire(before: ServiceInfo | undefined, after: ServiceInfo | undefined, touched: Set<string>): void {
    const key = (before ?? after)!.key;
    const was = endpointsByUid(before);
    const now = endpointsByUid(after);
    const portsSame = !!before && !!after && samePorts(before.ports, after.ports);
    for (const [uid, ep] of was) {
      const next = now.get(uid);
      if (!next) {
        const keys = this.#servicesOf.get(uid)?.filter((k) => k !== key) ?? [];
        if (keys.length > 0) this.#servicesOf.set(uid, Object.freeze(keys));
        else this.#servicesOf.delete(uid);
        touched.add(uid);
      } else if (!portsSame || !sameRecord(ep.ports, next.ports)) {
        touched.add(uid);
      }
    }
    for (const uid of now.keys()) {
      if (was.has(uid)) continue;
      const keys = [...(this.#servicesOf.get(uid) ?? EMPTY), key].sort(byText);
      this.#servicesOf.set(uid, Object.freeze(keys));
      touched.add(uid);
    }
  }

  /** WorkloadInfo for the touched uids; the list sorted by uid, copied with replacements when no uid came or went. */
  #workloads(previous: readonly WorkloadInfo[], touched: ReadonlySet<string>, changes: { removed: WorkloadInfo[]; added: WorkloadInfo[] }): readonly WorkloadInfo[] {
    let structural = previous.length === 0;
    const replaced: WorkloadInfo[] = [];
    for (const uid of touched) {
      const base = this.#byUid.get(uid);
      const had = this.#final.get(uid);
      if (had) changes.removed.push(had);
      if (!base) {
        if (had) {
          this.#final.delete(uid);
          structural = true;
        }
        continue;
      }
      const info: WorkloadInfo = Object.freeze({ ...base, services: this.#servicesOf.get(uid) ?? EMPTY });
      this.#final.set(uid, info);
      changes.added.push(info);
      if (had) replaced.push(info);
      else structural = true;
    }
    if (structural) this.#workloadList = [...this.#final.values()].sort((a, b) => byText(a.uid, b.uid));
    else if (replaced.length === 0) return previous;
    else for (const info of replaced) this.#workloadList[indexOfUid(this.#workloadList, info.uid)] = info;
    return Object.freeze(this.#workloadList.slice());
  }
}

/** `built` as the build after it when nothing changed: the same lists, no changes. */
export function unchanged(built: BuiltMesh): BuiltMesh {
  const { services, workloads } = built.changes;
  if (services.before === built.services && workloads.before === built.workloads) return built;
  const none = <T>(before: readonly T[]) => ({ before, removed: EMPTY, added: EMPTY });
  return { ...built, changes: { services: none(built.services), workloads: none(built.workloads) } };
}

/** Pairs of winners (before, after) that differ, by key. */
function changedWinners(before: readonly ServiceInfo[], after: readonly ServiceInfo[], structural: boolean): [ServiceInfo | undefined, ServiceInfo | undefined][] {
  const out: [ServiceInfo | undefined, ServiceInfo | undefined][] = [];
  if (!structural) {
    for (let i = 0; i < after.length; i++) if (before[i] !== after[i]) out.push([before[i], after[i]]);
    return out;
  }
  const was = new Map(before.map((s) => [s.key, s]));
  for (const s of after) {
    const b = was.get(s.key);
    was.delete(s.key);
    if (b !== s) out.push([b, s]);
  }
  for (const b of was.values()) out.push([b, undefined]);
  return out;
}

/** Endpoints by workload uid (the last one of a uid, as the workload API's port lists read them). */
function endpointsByUid(svc: ServiceInfo | undefined): Map<string, EndpointInfo> {
  const out = new Map<string, EndpointInfo>();
  for (const e of svc?.endpoints ?? EMPTY) out.set(e.workloadUid, e);
  return out;
}

function samePorts(a: readonly ServicePortInfo[], b: readonly ServicePortInfo[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return a.every((p, i) => {
    const q = b[i]!;
    return p.name === q.name && p.port === q.port && p.targetPort === q.targetPort && p.protocol === q.protocol && p.appProtocol === q.appProtocol;
  });
}

function sameRecord(a: Readonly<Record<number, number>>, b: Readonly<Record<number, number>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k as unknown as number] === b[k as unknown as number]);
}

function indexOfUid(list: readonly WorkloadInfo[], uid: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.uid < uid) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
