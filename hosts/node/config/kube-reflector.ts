/**
 * List/watch of one kind, kept in a local cache (client-go's Reflector): LIST, then WATCH from the
 * list's resourceVersion with bookmarks; a watch that ends or drops is resumed from the last
 * resourceVersion seen (event or bookmark), so nothing made meanwhile is missed; a `410 Gone`
 * (ERROR event or HTTP status) means the history is compacted: LIST again and hand over the
 * difference. Failures are retried with capped exponential backoff and jitter.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
 *
 * Why not the library's ListWatch/makeInformer: it does resume and re-list on 410 (its own test in
 * test/support/fake-kube-apiserver.test.ts shows it), but any other failure (a dropped connection,
 * a 5xx, the API server away for a while) stops it for good with no retry, it cannot ask for
 * bookmarks (so a resume after a quiet hour starts from an old version and re-lists more often),
 * and it lists through typed clients whose objects differ from the watch's (kube-client.ts).
 */
import { KubeApiError, type KubeClient, type KubeObject, type WatchHandle } from './kube-client.ts';
import { collectionPath, prepareObject, type ServedKind } from './kube-resources.ts';

export interface ReflectorChange {
  upserts: KubeObject[];
  deletes: KubeObject[];
}

export interface ReflectorOptions {
  client: KubeClient;
  kind: ServedKind;
  /** Changes after the first list (the first list is read from `objects()` once `synced` resolves). */
  onChange: (change: ReflectorChange) => void;
  /** The kind is no longer served (its CRD was deleted): the reflector has stopped. */
  onGone: () => void;
  /** What happened to this kind, without the kind's name (the source names the kinds, one line for many). */
  report: (message: string) => void;
  backoffMs?: { initial: number; max: number };
  /** Server-side watch timeout (default: random in 5-10 min, as client-go does, so watches do not reconnect in step). */
  watchTimeoutSeconds?: number;
  /** Page size of lists. */
  pageSize?: number;
}

const key = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class Reflector {
  readonly #o: ReflectorOptions;
  readonly #objects = new Map<string, KubeObject>();
  #rv = '';
  #stopped = false;
  /** The last watch ran a while or brought events before it failed. */
  #wasHealthy = false;
  #watch: WatchHandle | undefined;
  #wake: (() => void) | undefined;
  #sleep: ReturnType<typeof setTimeout> | undefined;
  #synced!: () => void;
  /** Resolves after the first successful list. */
  readonly synced = new Promise<void>((r) => (this.#synced = r));
  /** Counters for tests and status: lists made, watches opened, 410s seen. */
  readonly stats = { lists: 0, watches: 0, expired: 0 };

  constructor(opts: ReflectorOptions) {
    this.#o = opts;
  }

  get resourceVersion(): string {
    return this.#rv;
  }

  get kind(): ServedKind {
    return this.#o.kind;
  }

  /** One object as last seen. */
  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.#objects.get(`${namespace ?? ''}/${name}`);
  }

  objects(): KubeObject[] {
    return [...this.#objects.values()];
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    this.#watch?.abort();
    this.#watch = undefined;
    if (this.#sleep) clearTimeout(this.#sleep);
    this.#wake?.();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        if (!this.#rv) await this.#list();
        const healthy = await this.#watchOnce();
        failures = healthy ? 0 : failures + 1;
      } catch (err) {
        if (this.#stopped) return;
        const e = err as KubeApiError;
        if (e instanceof KubeApiError && e.status === 410) {
          this.#expired();
          continue;
        }
        if (e instanceof KubeApiError && e.status === 404 && this.#rv) {
          // The watch is refused: let a list say whether the kind is still served.
          this.#rv = '';
          continue;
        }
        if (e instanceof KubeApiError && e.status === 404) {
          this.#o.report('is no longer served by the cluster (its CustomResourceDefinition was removed?): its objects are dropped');
          this.#stopped = true;
          this.#o.onGone();
          return;
        }
        // A watch that was up a while before it broke starts a new streak (quick reconnect).
        failures = this.#wasHealthy ? 1 : failures + 1;
        this.#wasHealthy = false;
        // First failure of a streak, then at 2, 4, 8...: an API server away for an hour is not a flood.
        if ((failures & (failures - 1)) === 0) {
          const what = this.#rv ? 'resuming from the last resourceVersion' : 'then listing';
          this.#o.report(`${e.status ? `HTTP ${e.status} ` : ''}${e.message} (failure ${failures}; retrying with backoff, ${what})`);
        }
      }
      if (failures > 0 && !this.#stopped) await this.#pause(this.#backoff(failures));
    }
  }

  #backoff(failures: number): number {
    const { initial, max } = this.#o.backoffMs ?? { initial: 200, max: 30_000 };
    const ms = Math.min(max, initial * 2 ** Math.min(failures - 1, 20));
    return ms / 2 + Math.random() * (ms / 2);
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#sleep = setTimeout(resolve, ms);
    });
  }

  #expired(): void {
    this.stats.expired++;
    this.#o.report('resourceVersion is too old (410 Gone): listing again');
    this.#rv = '';
  }

  /** LIST (paged), then hand over what differs from the cache. */
  async #list(): Promise<void> {
    const k = this.#o.kind;
    const items: KubeObject[] = [];
    let cont = '';
    let rv = '';
    do {
      const query: Record<string, string> = { limit: String(this.#o.pageSize ?? 500) };
      if (k.fieldSelector) query.fieldSelector = k.fieldSelector;
      if (cont) query.continue = cont;
      const page = await this.#o.client.get(collectionPath(k), query);
      for (const raw of (page.items ?? []) as KubeObject[]) {
        const obj = prepareObject(k, raw);
        if (obj) items.push(obj);
      }
      cont = page.metadata?.continue ?? '';
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont);
    this.stats.lists++;
    const seen = new Set<string>();
    const change: ReflectorChange = { upserts: [], deletes: [] };
    for (const obj of items) {
      const id = key(obj);
      seen.add(id);
      if (this.#objects.get(id)?.metadata.resourceVersion !== obj.metadata.resourceVersion) change.upserts.push(obj);
      this.#objects.set(id, obj);
    }
    for (const [id, obj] of this.#objects) {
      if (!seen.has(id)) {
        this.#objects.delete(id);
        change.deletes.push(obj);
      }
    }
    this.#rv = rv;
    this.#synced();
    if (change.upserts.length > 0 || change.deletes.length > 0) this.#o.onChange(change);
  }

  /**
   * One WATCH until the stream ends. Resolves true when it was healthy (it ran a while or brought
   * events), false when it ended at once; throws on an error (410 included, as a KubeApiError).
   */
  #watchOnce(): Promise<boolean> {
    const k = this.#o.kind;
    const timeoutSeconds = this.#o.watchTimeoutSeconds ?? Math.floor(300 + Math.random() * 300);
    const query: Record<string, string> = { resourceVersion: this.#rv, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) };
    if (k.fieldSelector) query.fieldSelector = k.fieldSelector;
    const started = Date.now();
    let events = 0;
    return new Promise<boolean>((resolve, reject) => {
      let settled = false;
      let idle: ReturnType<typeof setTimeout> | undefined;
      const finish = (err: unknown, expired = false) => {
        if (settled) return;
        settled = true;
        if (idle) clearTimeout(idle);
        this.#watch?.abort();
        this.#watch = undefined;
        if (expired) reject(new KubeApiError(410, 'Expired', 'resourceVersion too old'));
        else if (err) {
          this.#wasHealthy = events > 0 || Date.now() - started > 5000;
          reject(err instanceof KubeApiError ? err : new KubeApiError(0, 'Network', `watch connection lost (${(err as Error).message ?? String(err)})`));
        } else resolve(events > 0 || Date.now() - started > 5000);
      };
      // A half-open connection sends nothing: past the server's own timeout, give it up and resume.
      const armIdle = () => {
        if (idle) clearTimeout(idle);
        idle = setTimeout(() => finish(null), (timeoutSeconds + 30) * 1000);
      };
      armIdle();
      this.stats.watches++;
      const onEvent = (type: string, raw: any) => {
        if (settled || this.#stopped) return;
        armIdle();
        events++;
        if (type === 'ERROR') {
          const code = Number(raw?.code);
          if (code === 410) finish(null, true);
          else finish(new KubeApiError(code || 500, raw?.reason ?? 'Unknown', raw?.message ?? 'watch error'));
          return;
        }
        const rv = raw?.metadata?.resourceVersion as string | undefined;
        if (type === 'BOOKMARK') {
          if (rv) this.#rv = rv;
          return;
        }
        if (!raw?.metadata?.name) return;
        const obj = prepareObject(k, raw);
        const id = key(raw);
        if (type === 'DELETED' || !obj) {
          const had = this.#objects.get(id);
          if (had) {
            this.#objects.delete(id);
            this.#o.onChange({ upserts: [], deletes: [had] });
          }
        } else if (type === 'ADDED' || type === 'MODIFIED') {
          this.#objects.set(id, obj);
          this.#o.onChange({ upserts: [obj], deletes: [] });
        }
        if (rv) this.#rv = rv;
      };
      this.#o.client.watch(collectionPath(k), query, onEvent, (err) => finish(err)).then(
        (handle) => {
          if (settled || this.#stopped) handle.abort();
          else this.#watch = handle;
        },
        (err) => finish(err),
      );
    });
  }
}
