/**
 * An edge host's config by polling the control plane's REST-JSON xDS (`POST /v3/discovery:<type>`
 * on 15014, design.md 4, config-contract.ts), Envoy's REST polling with a join token. Runtime-
 * neutral: only the `fetch` and timers it is given (globals by default), no Node modules.
 *
 * - Every `intervalMs` (default 5000) a round polls each type with its last versionInfo (a 304 means
 *   unchanged). A round is all or nothing: its answers are kept only if every type answered, so
 *   listeners never arrive without the routes they name.
 * - `onChange` gets the whole set, only once every type was fetched, and again only when a version
 *   changed. On an error the last good set stays in force, and the next round waits longer
 *   (exponential backoff with jitter, so many edge isolates do not come back in step).
 * - A round that takes longer than `timeoutMs` is aborted (AbortController).
 */
import { REST_XDS_TYPES, type DiscoveryRequestJson, type DiscoveryResponseJson, type EdgeConfigSource, type RestXdsType } from './config-contract.ts';
import { checkDiscoveryResponse } from './snapshot-source.ts';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface RestXdsSourceOptions {
  /** The control plane's HTTP address (its 15014), e.g. `http://control:15014`. */
  url: string;
  /** A join token: `weft token create --gateway NS/NAME`. */
  token: string;
  /** The types polled (default: what a gateway gets: listeners, routes, clusters, endpoints, extension_configs). */
  types?: readonly RestXdsType[];
  /** DiscoveryRequest.node (default id `edge`); the control plane fills the role and name from the token. */
  node?: DiscoveryRequestJson['node'];
  /** The gateway's labels (as `weft gateway --label`), sent as node metadata LABELS when not empty. */
  labels?: Readonly<Record<string, string>>;
  intervalMs?: number;
  /** Longest a round may take before it is aborted (default 10 s). */
  timeoutMs?: number;
  /** First and longest wait after failures (default 1 s and 60 s). */
  backoffMs?: { initial?: number; max?: number };
  fetch?: typeof fetch;
  timers?: Timers;
  random?: () => number;
  /** Told of every failed round (it does not stop the poller). */
  onError?: (err: Error) => void;
}

export const GATEWAY_TYPES: readonly RestXdsType[] = ['listeners', 'routes', 'clusters', 'endpoints', 'extension_configs'];

/** What the poller knows, for an edge host's status page. */
export interface RestXdsStatus {
  rounds: number;
  failures: number;
  lastSuccess?: string;
  lastError?: string;
  versions: Partial<Record<RestXdsType, string>>;
}

export class RestXdsSource implements EdgeConfigSource {
  readonly #o: RestXdsSourceOptions;
  readonly #types: readonly RestXdsType[];
  readonly #fetch: typeof fetch;
  readonly #timers: Timers;
  readonly #held = new Map<RestXdsType, DiscoveryResponseJson>();
  #onChange?: (responses: Partial<Record<RestXdsType, DiscoveryResponseJson>>) => void;
  #timer: unknown;
  #abort?: AbortController;
  #running = false;
  #failures = 0;
  readonly #status: RestXdsStatus = { rounds: 0, failures: 0, versions: {} };

  constructor(o: RestXdsSourceOptions) {
    this.#o = o;
    this.#types = o.types ?? GATEWAY_TYPES;
    const f = o.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => f(input, init); // unbound, as workerd requires of its fetch
    this.#timers = o.timers ?? { setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms), clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>) };
  }

  get status(): RestXdsStatus {
    return { ...this.#status, versions: Object.fromEntries([...this.#held].map(([t, r]) => [t, r.versionInfo])) };
  }

  start(onChange: (responses: Partial<Record<RestXdsType, DiscoveryResponseJson>>) => void): void {
    if (this.#running) throw new Error('RestXdsSource already started');
    this.#running = true;
    this.#onChange = onChange;
    this.#schedule(0);
  }

  stop(): void {
    this.#running = false;
    this.#timers.clearTimeout(this.#timer);
    this.#abort?.abort(new Error('stopped'));
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    this.#timer = this.#timers.setTimeout(() => void this.#round(), ms);
  }

  /** The wait after `failures` failed rounds in a row: doubling from `initial`, capped, with up to half taken off at random. */
  #backoff(): number {
    const initial = this.#o.backoffMs?.initial ?? 1000;
    const max = this.#o.backoffMs?.max ?? 60_000;
    const full = Math.min(max, initial * 2 ** Math.min(this.#failures - 1, 30));
    return Math.round(full * (1 - 0.5 * (this.#o.random ?? Math.random)()));
  }

  async #round(): Promise<void> {
    const interval = this.#o.intervalMs ?? 5000;
    const abort = (this.#abort = new AbortController());
    const timeoutMs = this.#o.timeoutMs ?? 10_000;
    const timer = this.#timers.setTimeout(() => abort.abort(new Error(`REST xDS poll timed out after ${timeoutMs} ms`)), timeoutMs);
    this.#status.rounds++;
    try {
      const answers = await Promise.all(this.#types.map((t) => this.#poll(t, abort.signal)));
      if (!this.#running) return;
      let changed = false;
      answers.forEach((a, i) => {
        if (!a) return; // 304: unchanged
        const type = this.#types[i]!;
        if (this.#held.get(type)?.versionInfo !== a.versionInfo) changed = true;
        this.#held.set(type, a);
      });
      this.#failures = 0;
      this.#status.lastSuccess = new Date().toISOString();
      this.#schedule(interval);
      if (changed && this.#types.every((t) => this.#held.has(t))) this.#deliver();
    } catch (err) {
      if (!this.#running) return;
      const e = abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason : err instanceof Error ? err : new Error(String(err));
      this.#failures++;
      this.#status.failures++;
      this.#status.lastError = e.message;
      this.#o.onError?.(e);
      this.#schedule(this.#backoff());
    } finally {
      this.#timers.clearTimeout(timer);
      abort.abort(); // ends any poll of the round still open after another failed
    }
  }

  /** Hands the whole set over; the host's failure to apply it is its own (reported, the poller goes on). */
  #deliver(): void {
    try {
      this.#onChange?.(Object.fromEntries(this.#held) as Partial<Record<RestXdsType, DiscoveryResponseJson>>);
    } catch (err) {
      this.#o.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** One type: its new response, or undefined when the control plane answered 304 (unchanged). */
  async #poll(type: RestXdsType, signal: AbortSignal): Promise<DiscoveryResponseJson | undefined> {
    const labels = this.#o.labels && Object.keys(this.#o.labels).length ? { LABELS: { ...this.#o.labels } } : {};
    const given = this.#o.node ?? { id: 'edge' };
    const node = { ...given, ...(Object.keys(labels).length ? { metadata: { ...given.metadata, ...labels } } : {}) };
    const held = this.#held.get(type);
    const body: DiscoveryRequestJson = { node, typeUrl: REST_XDS_TYPES[type], ...(held ? { versionInfo: held.versionInfo } : {}) };
    const url = `${this.#o.url.replace(/\/+$/, '')}/v3/discovery:${type}`;
    const res = await this.#fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${this.#o.token}` }, body: JSON.stringify(body), signal });
    if (res.status === 304) {
      await res.body?.cancel();
      if (!held) throw new Error(`${url}: 304 for a type never fetched`);
      return undefined;
    }
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}: ${text.trim().slice(0, 300)}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${url}: the answer is not JSON`);
    }
    return checkDiscoveryResponse(type, json, url);
  }
}
