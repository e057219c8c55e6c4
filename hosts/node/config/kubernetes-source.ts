/**
 * The control plane's Kubernetes source (design.md 4, `weft control --kubernetes`): discovers which
 * of the kinds Weft reads the cluster serves, list/watches each (kube-reflector.ts: resume from the
 * last resourceVersion, re-list on 410 Gone, backoff), and feeds the same ConfigStore as the
 * directory source. `start()` resolves once every kind's first list is in, handed over as one batch
 * (`replaceObjects`): the control plane serves nothing before it has the whole cluster. Later changes
 * are handed over in small batches, the object as the unit of rejection, each named
 * `k8s:<apiVersion>/<Kind>/<ns>/<name>` in messages.
 *
 * A kind the cluster does not serve (its CRD is not installed) is skipped with one log line and
 * looked for again now and then. Secrets are read only of type kubernetes.io/tls, only their
 * certificate keys are kept, and no object is ever logged.
 */
import type { ConfigSource, MeshSnapshot, ObjectRef, SourceSink } from '../../../core/config/index.ts';
import { kubeClient, loadKubeConfig, type KubeClient, type KubeConfigChoice, type KubeObject } from './kube-client.ts';
import { discoverKinds } from './kube-discovery.ts';
import { Reflector, type ReflectorChange } from './kube-reflector.ts';
import { GatewayStatusWriter } from './kube-status-writer.ts';
import { kindLabel, objectOrigin, wantedKinds, type ServedKind, type WantedKind } from './kube-resources.ts';

export interface KubernetesSourceOptions {
  client: KubeClient;
  /** Source id in the Store (default `k8s:<server URL>`). */
  id?: string;
  log?: (line: string) => void;
  /** The kinds to read (default: every kind of core/config/kinds.ts). */
  wanted?: readonly WantedKind[];
  /** How often kinds the cluster did not serve are looked for again (default 60 s). */
  rediscoverMs?: number;
  /** Quiet time that gathers a burst of watch events into one Store update (default 10 ms). */
  batchMs?: number;
  backoffMs?: { initial: number; max: number };
  watchTimeoutSeconds?: number;
  /** Page size of lists (default 500). */
  pageSize?: number;
}

/** `weft control --kubernetes [--kubeconfig FILE]`: the source on the configured cluster. */
export function kubernetesSource(choice: KubeConfigChoice & { log?: (line: string) => void }): KubernetesSource {
  const client = kubeClient(loadKubeConfig(choice));
  return new KubernetesSource({ client, ...(choice.log ? { log: choice.log } : {}) });
}

type Pending = { upsert: KubeObject } | { delete: ObjectRef };

const storeId = (o: KubeObject) => `${o.apiVersion.split('/').slice(0, -1).join('/')}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const refOf = (o: KubeObject): ObjectRef => ({ apiVersion: o.apiVersion, kind: o.kind, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}), name: o.metadata.name });

export class KubernetesSource implements ConfigSource {
  readonly id: string;
  readonly #o: KubernetesSourceOptions;
  readonly #log: (line: string) => void;
  readonly #reflectors = new Map<string, Reflector>();
  #absent: WantedKind[] = [];
  #sink: SourceSink | undefined;
  /** Changes are handed over only after the initial batch. */
  #live = false;
  #stopped = false;
  readonly #pending = new Map<string, Pending>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #rediscover: ReturnType<typeof setInterval> | undefined;
  #rediscovering = false;
  #status: { writer: GatewayStatusWriter; unsubscribe: () => void } | undefined;
  /** Reports waiting to be logged, by message: one line names every kind a dropped connection hit. */
  readonly #reports = new Map<string, string[]>();
  #reportTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: KubernetesSourceOptions) {
    this.#o = opts;
    this.id = opts.id ?? `k8s:${opts.client.server}`;
    this.#log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** The reflectors by kind label (tests and status). */
  get reflectors(): ReadonlyMap<string, Reflector> {
    return this.#reflectors;
  }

  get absent(): readonly WantedKind[] {
    return this.#absent;
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    this.#stopped = false;
    const wanted = this.#o.wanted ?? wantedKinds();
    const found = await this.#discoverUntilDone(wanted);
    if (this.#stopped) return;
    this.#absent = found.absent;
    for (const k of found.absent) this.#logAbsent(k);
    this.#log(`k8s: reading ${found.served.length} kinds from ${this.#o.client.server}: ${found.served.map((k) => `${k.kind}.${k.apiVersion}`).join(', ')}`);
    const first = found.served.map((k) => this.#startReflector(k));
    await Promise.all(first);
    if (this.#stopped) return;
    const all = [...this.#reflectors.values()].flatMap((r) => r.objects());
    this.#pending.clear();
    this.#live = true;
    sink.replaceObjects(all, objectOrigin);
    this.#log(`k8s: initial lists read: ${all.length} objects; watching for changes`);
    const every = this.#o.rediscoverMs ?? 60_000;
    this.#rediscover = setInterval(() => void this.#lookAgain(), every);
    this.#rediscover.unref?.();
  }

  /**
   * Writes Gateway API status of the snapshots `subscribe` delivers (the Store this source feeds)
   * back to the cluster (kube-status-writer.ts).
   */
  writeStatus(subscribe: (fn: (snap: MeshSnapshot) => void) => () => void, opts: { debounceMs?: number } = {}): GatewayStatusWriter {
    const gw = (kind: string) => this.#reflectors.get(`${kind}.gateway.networking.k8s.io`);
    const writer = new GatewayStatusWriter({
      client: this.#o.client,
      served: (kind) => gw(kind)?.kind,
      live: (kind, ns, name) => gw(kind)?.get(ns, name),
      log: this.#log,
      ...opts,
    });
    this.#status = { writer, unsubscribe: subscribe((snap) => writer.update(snap)) };
    return writer;
  }

  stop(): void {
    this.#stopped = true;
    this.#status?.writer.stop();
    this.#status?.unsubscribe();
    this.#status = undefined;
    for (const r of this.#reflectors.values()) r.stop();
    this.#reflectors.clear();
    if (this.#rediscover) clearInterval(this.#rediscover);
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    if (this.#reportTimer) clearTimeout(this.#reportTimer);
    this.#rediscover = this.#flushTimer = this.#reportTimer = undefined;
    this.#reports.clear();
    this.#live = false;
  }

  /** Discovery, retried with backoff until the API server answers (the control plane is not ready before). */
  async #discoverUntilDone(wanted: readonly WantedKind[]) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await discoverKinds(this.#o.client, wanted);
      } catch (err) {
        if (this.#stopped) return { served: [], absent: [] };
        const ms = Math.min(30_000, 500 * 2 ** Math.min(attempt - 1, 10));
        this.#log(`k8s: discovery on ${this.#o.client.server} failed: ${(err as Error).message}; retrying in ${(ms / 1000).toFixed(1)} s`);
        await new Promise((r) => setTimeout(r, ms));
      }
    }
  }

  /** Starts a kind's reflector; resolves after its first list (or when the kind turns out not to be served). */
  #startReflector(k: ServedKind): Promise<void> {
    const label = kindLabel(k);
    let gone!: () => void;
    const goneP = new Promise<void>((r) => (gone = r));
    const r = new Reflector({
      client: this.#o.client,
      kind: k,
      report: (message) => this.#report(label, message),
      onChange: (c) => this.#queue(c),
      onGone: () => {
        this.#reflectors.delete(label);
        this.#queue({ upserts: [], deletes: r.objects() });
        this.#absent.push(k);
        gone();
      },
      ...(this.#o.backoffMs ? { backoffMs: this.#o.backoffMs } : {}),
      ...(this.#o.watchTimeoutSeconds ? { watchTimeoutSeconds: this.#o.watchTimeoutSeconds } : {}),
      ...(this.#o.pageSize ? { pageSize: this.#o.pageSize } : {}),
    });
    this.#reflectors.set(label, r);
    r.start();
    return Promise.race([r.synced, goneP]);
  }

  #logAbsent(k: WantedKind): void {
    this.#log(`k8s: ${kindLabel(k)} is not served by the cluster (no CustomResourceDefinition for ${k.versions.map((v) => (k.group ? `${k.group}/${v}` : v)).join(', ')}): skipped; looked for again every ${Math.round((this.#o.rediscoverMs ?? 60_000) / 1000)} s`);
  }

  /** Kinds that were absent: start those the cluster serves now (a CRD installed after start). */
  async #lookAgain(): Promise<void> {
    if (this.#rediscovering || this.#absent.length === 0 || this.#stopped) return;
    this.#rediscovering = true;
    try {
      const found = await discoverKinds(this.#o.client, this.#absent);
      if (this.#stopped) return;
      this.#absent = found.absent;
      for (const k of found.served) {
        this.#log(`k8s: ${kindLabel(k)} is served now (${k.apiVersion}): reading it`);
        // Its first list reaches the Store as a change (onChange): the source is live by now.
        void this.#startReflector(k);
      }
    } catch {
      // The reflectors report an unreachable API server; this retries at the next interval.
    } finally {
      this.#rediscovering = false;
    }
  }

  #report(label: string, message: string): void {
    const labels = this.#reports.get(message) ?? [];
    labels.push(label);
    this.#reports.set(message, labels);
    this.#reportTimer ??= setTimeout(() => {
      this.#reportTimer = undefined;
      for (const [msg, kinds] of this.#reports) this.#log(`k8s: ${kinds.join(', ')}: ${msg}`);
      this.#reports.clear();
    }, 200);
  }

  #queue(c: ReflectorChange): void {
    if (!this.#live || this.#stopped) return;
    for (const o of c.deletes) this.#pending.set(storeId(o), { delete: refOf(o) });
    for (const o of c.upserts) this.#pending.set(storeId(o), { upsert: o });
    if (!this.#flushTimer) this.#flushTimer = setTimeout(() => this.#flush(), this.#o.batchMs ?? 10);
  }

  #flush(): void {
    this.#flushTimer = undefined;
    if (!this.#sink || this.#stopped) return;
    const deletes: ObjectRef[] = [];
    const upserts: KubeObject[] = [];
    for (const p of this.#pending.values()) {
      if ('delete' in p) deletes.push(p.delete);
      else upserts.push(p.upsert);
    }
    this.#pending.clear();
    if (deletes.length > 0) this.#sink.deleteObjects(deletes);
    if (upserts.length > 0) this.#sink.upsertObjects(upserts, objectOrigin);
  }
}
