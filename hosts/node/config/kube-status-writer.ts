/**
 * Writes Gateway API status back to the cluster (`weft control --kubernetes`): what
 * core/config/gateway-api-status.ts computes from each snapshot (what /debug/status shows) goes to the
 * `status` subresource of Gateways, HTTPRoutes and GRPCRoutes, and of GatewayClasses a Weft
 * controller owns. A Gateway of our class is ours whole; a route's `status.parents` is shared with
 * other controllers, so only our entries are replaced. Written only when it differs from the status
 * the object has (the watch keeps that current), with the object's resourceVersion as precondition:
 * a 409 means a newer object is on its way, whose snapshot writes again. Conditions keep their
 * lastTransitionTime while their status stays.
 * https://gateway-api.sigs.k8s.io/reference/spec/ (v1.4: GatewayStatus, RouteParentStatus)
 */
import { gatewayApiModel, type Condition, type GatewayApiStatus } from '../../../core/config/gateway-api-status.ts';
import type { MeshSnapshot } from '../../../core/config/index.ts';
import { stableStringify } from '../../../core/config/stable-json.ts';
import { KubeApiError, type KubeClient, type KubeObject } from './kube-client.ts';
import { collectionPath, type ServedKind } from './kube-resources.ts';

export interface StatusWriterOptions {
  client: KubeClient;
  /** The served kind of a Gateway API kind, if the cluster serves it. */
  served: (kind: string) => ServedKind | undefined;
  /** The object as last seen by the watch. */
  live: (kind: string, namespace: string | undefined, name: string) => KubeObject | undefined;
  log: (line: string) => void;
  /** Quiet time after a snapshot before writing (default 500 ms). */
  debounceMs?: number;
  now?: () => Date;
}

interface Write {
  kind: string;
  namespace?: string;
  name: string;
  status: Record<string, unknown>;
}

type LiveCondition = Condition & { lastTransitionTime?: string };

export class GatewayStatusWriter {
  readonly #o: StatusWriterOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #latest: MeshSnapshot | undefined;
  #writing = false;
  #stopped = false;
  /** Objects whose last write failed with something other than a conflict, to log each once. */
  readonly #failing = new Set<string>();
  /** Writes made (tests, status). */
  writes = 0;

  constructor(opts: StatusWriterOptions) {
    this.#o = opts;
  }

  update(snapshot: MeshSnapshot): void {
    this.#latest = snapshot;
    if (this.#timer || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#writeLatest();
    }, this.#o.debounceMs ?? 500);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #writeLatest(): Promise<void> {
    if (this.#writing || this.#stopped || !this.#latest) return;
    this.#writing = true;
    const snap = this.#latest;
    try {
      for (const w of this.#plan(gatewayApiModel(snap).status)) {
        if (this.#stopped) return;
        await this.#write(w);
      }
    } finally {
      this.#writing = false;
      // A snapshot that came while writing: once more.
      if (this.#latest !== snap && !this.#stopped) this.update(this.#latest!);
    }
  }

  /** The writes the status calls for: only where it differs from the object's status. */
  #plan(st: GatewayApiStatus): Write[] {
    const now = (this.#o.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
    const out: Write[] = [];
    const consider = (kind: string, namespace: string | undefined, name: string, make: (live: KubeObject) => Record<string, unknown>) => {
      if (!this.#o.served(kind)) return;
      const live = this.#o.live(kind, namespace, name);
      if (!live) return;
      const status = make(live);
      if (stableStringify(status) !== stableStringify(pick(live.status ?? {}, Object.keys(status)))) out.push({ kind, ...(namespace ? { namespace } : {}), name, status });
    };
    for (const c of st.gatewayClasses) {
      if (c.builtin) continue;
      consider('GatewayClass', undefined, c.name, (live) => ({ conditions: stamp(c.conditions, live.status?.conditions, now) }));
    }
    for (const g of st.gateways) {
      consider('Gateway', g.namespace, g.name, (live) => ({
        addresses: g.addresses,
        conditions: stamp(g.conditions, live.status?.conditions, now),
        listeners: g.listeners.map((l) => ({
          name: l.name,
          supportedKinds: l.supportedKinds,
          attachedRoutes: l.attachedRoutes,
          conditions: stamp(l.conditions, (live.status?.listeners as { name: string; conditions?: LiveCondition[] }[] | undefined)?.find((x) => x.name === l.name)?.conditions, now),
        })),
      }));
    }
    for (const r of st.routes) {
      if (r.kind !== 'HTTPRoute' && r.kind !== 'GRPCRoute') continue;
      consider(r.kind, r.namespace, r.name, (live) => {
        const ours = new Set(r.parents.map((p) => p.controllerName));
        const liveParents = (live.status?.parents ?? []) as { parentRef: unknown; controllerName: string; conditions?: LiveCondition[] }[];
        const others = liveParents.filter((p) => !ours.has(p.controllerName));
        const mine = r.parents.map((p) => ({
          parentRef: p.parentRef,
          controllerName: p.controllerName,
          conditions: stamp(p.conditions, liveParents.find((x) => x.controllerName === p.controllerName && stableStringify(x.parentRef) === stableStringify(p.parentRef))?.conditions, now),
        }));
        return { parents: [...others, ...mine] };
      });
    }
    return out;
  }

  async #write(w: Write): Promise<void> {
    const kind = this.#o.served(w.kind)!;
    const live = this.#o.live(w.kind, w.namespace, w.name);
    if (!live) return;
    const base = collectionPath({ ...kind, ...(w.namespace ? { namespace: w.namespace } : {}) });
    const path = `${base}/${encodeURIComponent(w.name)}/status`;
    const id = `${w.kind} ${w.namespace ? `${w.namespace}/` : ''}${w.name}`;
    try {
      await this.#o.client.mergePatch(path, { metadata: { resourceVersion: live.metadata.resourceVersion }, status: w.status });
      this.writes++;
      if (this.#failing.delete(id)) this.#o.log(`k8s: status of ${id} written again`);
    } catch (err) {
      // A conflict: the watch brings the newer object, and its snapshot writes again.
      if (err instanceof KubeApiError && (err.status === 409 || err.status === 404)) return;
      if (!this.#failing.has(id)) this.#o.log(`k8s: cannot write the status of ${id}: ${(err as Error).message} (is the status subresource allowed by RBAC?)`);
      this.#failing.add(id);
    }
  }
}

/** Conditions with lastTransitionTime: kept from the live condition of the same type and status, else now. */
function stamp(conds: readonly Condition[], live: readonly LiveCondition[] | undefined, now: string): LiveCondition[] {
  return conds.map((c) => {
    const prev = live?.find((l) => l.type === c.type);
    return { ...c, lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : now };
  });
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}

