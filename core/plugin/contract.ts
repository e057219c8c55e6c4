/**
 * The plugin host contract (design.md section 6): what the control plane delivers about a plugin,
 * what a proxy's plugin runtime offers its data path, and the shapes that cross the WIT boundary
 * (plugins/wit/weft-plugin.wit). Runtime-neutral: the Node host, the edge host and `weft up` all
 * program against these types.
 *
 * Value shapes follow jco's bindings of the WIT (variants as `{ tag, val }`, flags as objects of
 * booleans, records as objects with camelCase fields), so a guest's result reaches the data path
 * without a conversion.
 */

export type PluginKind = 'http-filter' | 'l4-policy' | 'endpoint-picker';
/** WasmPlugin failStrategy; FAIL_RELOAD is read as FAIL_CLOSE (with a validation warning). */
export type FailStrategy = 'FAIL_CLOSE' | 'FAIL_OPEN';
/** WasmPlugin phase; filters run AUTHN, then AUTHZ, then STATS, with unspecified ones last (before the router). */
export type PluginPhase = 'AUTHN' | 'AUTHZ' | 'STATS' | 'UNSPECIFIED_PHASE';

/** One WasmPlugin as the control plane delivers it to one proxy. */
export interface PluginBinding {
  /** `<namespace>.<WasmPlugin name>`: also the ECDS resource name */
  name: string;
  kind: PluginKind;
  /** file:// (with /builtin/<name>.wasm for the built-in plugins), http(s):// */
  url: string;
  /** lower-case hex; when set, a component whose bytes hash otherwise is refused */
  sha256?: string;
  phase: PluginPhase;
  /** higher runs first within a phase (Istio's order) */
  priority: number;
  failStrategy: FailStrategy;
  /** pluginConfig as JSON text ("{}" when none): what the guest's `config()` returns */
  config: string;
  /** WasmPlugin match[].ports: only traffic to these ports (empty: all) */
  ports: number[];
  /**
   * l4-policy in a node proxy: the workload UIDs (workload API `uid`) whose inbound connections it
   * checks; empty means every workload of the node. Not used by L7 proxies (the control plane
   * delivers to a waypoint or gateway only the plugins that select it).
   */
  workloads: string[];
}

// ---- values that cross the boundary (jco's shapes of the WIT types) ----

export interface Header {
  name: string;
  value: string;
}
export interface DirectResponse {
  status: number;
  headers: Header[];
  body: string;
}
export type FilterAction =
  | { tag: 'continue' }
  | { tag: 'respond'; val: DirectResponse }
  | { tag: 'route'; val: string }
  | { tag: 'cluster'; val: string };
export interface Phases {
  requestHeaders?: boolean;
  requestBody?: boolean;
  responseHeaders?: boolean;
  responseBody?: boolean;
}
export interface L4Connection {
  sourcePrincipal: string;
  destinationPrincipal: string;
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}
export type L4Decision = { tag: 'allow' } | { tag: 'deny'; val: string };
export interface EndpointCandidate {
  /** "ip:port" */
  address: string;
  labels: [string, string][];
  metrics: [string, number][];
}

/**
 * The HTTP exchange in flight, as a filter reads and changes it (the WIT `http` interface). The
 * data path implements it over its own request objects; a guest reads only what it asks for.
 */
export interface HttpExchangeView {
  method(): string;
  scheme(): string;
  authority(): string;
  path(): string;
  requestHeader(name: string): string | undefined;
  setRequestHeader(name: string, value: string): void;
  appendRequestHeader(name: string, value: string): void;
  removeRequestHeader(name: string): void;
  requestBody(): Uint8Array;
  /** 0 before the response-headers phase */
  responseStatus(): number;
  responseHeader(name: string): string | undefined;
  setResponseHeader(name: string, value: string): void;
  appendResponseHeader(name: string, value: string): void;
  removeResponseHeader(name: string): void;
  responseBody(): Uint8Array;
  sourcePrincipal(): string;
  sourceAddress(): string;
}

// ---- what a proxy's plugin runtime offers its data path ----

/**
 * One loaded version of one HTTP filter. Calls never throw: a trap, an overrun of the time budget
 * or of the memory cap, or a thrown error becomes the failStrategy's answer (FAIL_CLOSE: respond
 * 503; FAIL_OPEN: continue), is counted, and recycles the instance.
 */
export interface HttpFilterHandle {
  readonly name: string;
  /** which phases to call (from the guest's wanted-phases, read once at load) */
  readonly phases: Readonly<Required<Phases>>;
  onRequestHeaders(x: HttpExchangeView): FilterAction;
  onRequestBody(x: HttpExchangeView, endOfStream: boolean): FilterAction;
  onResponseHeaders(x: HttpExchangeView): FilterAction;
  onResponseBody(x: HttpExchangeView, endOfStream: boolean): FilterAction;
}

export interface L4PolicyHandle {
  readonly name: string;
  /** the workload UIDs it applies to (empty: all) */
  readonly workloads: readonly string[];
  /** FAIL_CLOSE failures deny, FAIL_OPEN failures allow */
  check(conn: L4Connection): L4Decision;
}

export interface EndpointPickerHandle {
  readonly name: string;
  /** indices into candidates, best first; [] leaves the choice to the balancer (also on failure) */
  pick(x: HttpExchangeView, candidates: readonly EndpointCandidate[]): number[];
}

/**
 * The plugins in force at one moment: an immutable snapshot. A request reads `plugins()` once when
 * it starts and keeps that snapshot to its end, so a swap never changes a request in flight.
 */
export interface PluginSet {
  readonly version: number;
  /** ordered: phase (AUTHN, AUTHZ, STATS, unspecified), then priority (higher first), then name */
  readonly httpFilters: readonly HttpFilterHandle[];
  readonly l4Policies: readonly L4PolicyHandle[];
  /** the first endpoint picker by the same order, if any */
  readonly endpointPicker: EndpointPickerHandle | undefined;
  /** http filters that apply to traffic for this listener port (match[].ports) */
  httpFiltersFor(port: number): readonly HttpFilterHandle[];
}

export type PluginState = 'loading' | 'ready' | 'failed';
export interface PluginStatus {
  name: string;
  kind: PluginKind;
  url: string;
  /** sha256 of the version serving traffic, if any */
  servingSha256?: string;
  state: PluginState;
  /** the last load or warm-up error; when set with state 'ready', the previous version serves on */
  error?: string;
  loadedAt?: string;
  /** calls, failures by cause, instance recycles */
  calls: number;
  failures: { trap: number; timeout: number; memory: number; error: number };
  recycles: number;
}

/** A proxy's plugin runtime (core/plugin/runtime.ts over a host's loader). */
export interface PluginRuntime {
  /**
   * The bindings for this proxy now (every xDS push). New and changed ones are loaded and warmed
   * beside the serving set, then swapped in atomically; one that fails to load never takes traffic
   * and the previous version (if any) serves on. Resolves when every load has settled.
   */
  update(bindings: readonly PluginBinding[]): Promise<void>;
  /** the snapshot in force; cheap (a field read) */
  plugins(): PluginSet;
  status(): PluginStatus[];
  /** registered listener: called after each swap */
  onSwap?(listener: (set: PluginSet) => void): void;
}
