/**
 * The functions a plugin imports (`weft:plugin/host` and `weft:plugin/http`, jco's camelCase
 * names), built once per loaded version and shared by its instances. Runtime-neutral: time comes
 * from a clock port, logs and metrics go to sinks the host passes.
 */
import type { HttpExchangeView } from './contract.ts';

/** Where plugin metrics go; the proxy exposes them as `weft_plugin_<metric>_total{plugin="ns.name"}` and a histogram. */
export interface PluginMetricsSink {
  counterAdd(plugin: string, metric: string, delta: number): void;
  histogramRecord(plugin: string, metric: string, value: number): void;
}

export type PluginLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type PluginLogSink = (plugin: string, level: PluginLogLevel, message: string) => void;

/** Monotonic milliseconds (core/ports Clock.monotonic). */
export interface MonotonicClock {
  monotonic(): number;
}

interface KvEntry {
  /** the text value; undefined while `num` holds the value (increment keeps a number, no parse per call) */
  text: string | undefined;
  num: bigint;
  /** monotonic ms; 0: no expiry */
  expires: number;
}

/**
 * The key-value store of one plugin name, shared by every instance and every version of it in the
 * process (a rate limit survives a hot swap). One thread, so each operation is atomic. Expired
 * keys are dropped when read and swept when the map grows; at `maxKeys` the oldest key goes.
 */
export class SharedKv {
  private readonly map = new Map<string, KvEntry>();
  private lastSweep = 0;

  constructor(
    private readonly clock: MonotonicClock,
    private readonly maxKeys = 100_000,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): string | undefined {
    const e = this.live(key, this.clock.monotonic());
    if (e === undefined) return undefined;
    return e.text ?? (e.text = e.num.toString());
  }

  set(key: string, value: string, ttlMs: number): void {
    const now = this.clock.monotonic();
    const e = this.map.get(key);
    const expires = ttlMs > 0 ? now + ttlMs : 0;
    if (e !== undefined) {
      e.text = value;
      e.expires = expires;
      return;
    }
    this.insert(key, { text: value, num: 0n, expires }, now);
  }

  /** adds delta (absent or non-integer counts as 0); ttl starts when the key is created */
  increment(key: string, delta: bigint, ttlMs: number): bigint {
    const now = this.clock.monotonic();
    const e = this.live(key, now);
    if (e === undefined) {
      this.insert(key, { text: undefined, num: delta, expires: ttlMs > 0 ? now + ttlMs : 0 }, now);
      return delta;
    }
    if (e.text !== undefined) {
      e.num = parseBigInt(e.text);
      e.text = undefined;
    }
    e.num += delta;
    return e.num;
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  private live(key: string, now: number): KvEntry | undefined {
    const e = this.map.get(key);
    if (e !== undefined && e.expires !== 0 && e.expires <= now) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  private insert(key: string, e: KvEntry, now: number): void {
    if (this.map.size >= this.maxKeys) {
      if (now - this.lastSweep >= 1000) this.sweep(now);
      // still full: the oldest inserted key makes room (Map keeps insertion order)
      if (this.map.size >= this.maxKeys) {
        const oldest = this.map.keys().next();
        if (!oldest.done) this.map.delete(oldest.value);
      }
    }
    this.map.set(key, e);
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [k, e] of this.map) if (e.expires !== 0 && e.expires <= now) this.map.delete(k);
  }
}

function parseBigInt(text: string): bigint {
  try {
    return /^-?\d+$/.test(text) ? BigInt(text) : 0n;
  } catch {
    return 0n;
  }
}

/** What the host-imports of one plugin need. */
export interface HostImportDeps {
  /** `<namespace>.<name>` */
  plugin: string;
  config: string;
  clock: MonotonicClock;
  kv: SharedKv;
  log?: PluginLogSink;
  metrics?: PluginMetricsSink;
}

/** `weft:plugin/host` for one plugin version. */
export function createHostImports(d: HostImportDeps) {
  const { plugin, config, clock, kv, log, metrics } = d;
  // never goes back, even if the clock port is coarse or steps
  let lastNs = 0n;
  return {
    log(level: PluginLogLevel, message: string): void {
      if (log) log(plugin, level, message);
    },
    counterAdd(name: string, delta: bigint): void {
      if (metrics) metrics.counterAdd(plugin, name, Number(delta));
    },
    histogramRecord(name: string, value: number): void {
      if (metrics) metrics.histogramRecord(plugin, name, value);
    },
    monotonicNow(): bigint {
      const ns = BigInt(Math.floor(clock.monotonic() * 1e6));
      if (ns > lastNs) lastNs = ns;
      return lastNs;
    },
    kvGet(key: string): string | undefined {
      return kv.get(key);
    },
    kvSet(key: string, value: string, ttlMs: number): void {
      kv.set(key, value, ttlMs);
    },
    kvIncrement(key: string, delta: bigint, ttlMs: number): bigint {
      return kv.increment(key, delta, ttlMs);
    },
    config(): string {
      return config;
    },
  };
}

/**
 * The exchange a guest call is about: set just before the call and cleared after. Calls are
 * synchronous, so one slot per loaded version is enough; outside a call the imports read empty.
 */
export interface ExchangeSlot {
  x: HttpExchangeView | undefined;
}

const EMPTY = new Uint8Array(0);

/** `weft:plugin/http`, reading the slot. */
export function createHttpImports(slot: ExchangeSlot) {
  return {
    method: (): string => (slot.x ? slot.x.method() : ''),
    scheme: (): string => (slot.x ? slot.x.scheme() : ''),
    authority: (): string => (slot.x ? slot.x.authority() : ''),
    path: (): string => (slot.x ? slot.x.path() : ''),
    requestHeader: (name: string): string | undefined => (slot.x ? slot.x.requestHeader(name) : undefined),
    setRequestHeader(name: string, value: string): void {
      if (slot.x) slot.x.setRequestHeader(name, value);
    },
    appendRequestHeader(name: string, value: string): void {
      if (slot.x) slot.x.appendRequestHeader(name, value);
    },
    removeRequestHeader(name: string): void {
      if (slot.x) slot.x.removeRequestHeader(name);
    },
    requestBody: (): Uint8Array => (slot.x ? slot.x.requestBody() : EMPTY),
    responseStatus: (): number => (slot.x ? slot.x.responseStatus() : 0),
    responseHeader: (name: string): string | undefined => (slot.x ? slot.x.responseHeader(name) : undefined),
    setResponseHeader(name: string, value: string): void {
      if (slot.x) slot.x.setResponseHeader(name, value);
    },
    appendResponseHeader(name: string, value: string): void {
      if (slot.x) slot.x.appendResponseHeader(name, value);
    },
    removeResponseHeader(name: string): void {
      if (slot.x) slot.x.removeResponseHeader(name);
    },
    responseBody: (): Uint8Array => (slot.x ? slot.x.responseBody() : EMPTY),
    sourcePrincipal: (): string => (slot.x ? slot.x.sourcePrincipal() : ''),
    sourceAddress: (): string => (slot.x ? slot.x.sourceAddress() : ''),
  };
}
