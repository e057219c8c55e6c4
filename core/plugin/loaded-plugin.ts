/**
 * One loaded version of one plugin: its import object, its instance pool (warmed), and the handle
 * the data path calls. A change of phase, priority, ports, workloads or failStrategy alone makes a
 * new handle over the same pool (`rebind`); url, sha256, config or kind make a new version.
 */
import type { PluginBinding, Phases } from './contract.ts';
import type { CompiledPlugin } from './compiled-plugin.ts';
import { createHostImports, createHttpImports, type ExchangeSlot, type MonotonicClock, type PluginLogSink, type PluginMetricsSink, type SharedKv } from './host-imports.ts';
import { EndpointPicker, HttpFilter, L4Policy, PackedHttpFilter, phasesOf } from './handles.ts';
import { InstancePool, type FailureCause, type PluginStats } from './instance-pool.ts';

export type PluginHandle = HttpFilter | PackedHttpFilter | L4Policy | EndpointPicker;

/** What a weft:plugin@0.2.0 filter named at load: the headers whose values come with its calls. */
export interface WantedHeaders {
  request: readonly string[];
  response: readonly string[];
}

export interface VersionDeps {
  clock: MonotonicClock;
  kv: SharedKv;
  stats: PluginStats;
  fuel: number;
  defer: (fn: () => void) => void;
  syncRebuild?: boolean;
  log?: PluginLogSink;
  metrics?: PluginMetricsSink;
  onFailure?: (plugin: string, cause: FailureCause, err: unknown) => void;
}

/** what makes a binding need a new version rather than a new handle */
export function loadKey(b: PluginBinding): string {
  return `${b.kind}\u0000${b.url}\u0000${b.sha256 ?? ''}\u0000${b.config}`;
}

/** what the handle depends on beyond the version */
export function bindKey(b: PluginBinding): string {
  return `${b.phase}\u0000${b.priority}\u0000${b.failStrategy}\u0000${b.ports.join(',')}\u0000${b.workloads.join(',')}`;
}

export class LoadedPlugin {
  private constructor(
    readonly binding: PluginBinding,
    readonly compiled: CompiledPlugin,
    readonly pool: InstancePool,
    readonly phases: Readonly<Required<Phases>>,
    /** a 0.2.0 filter's named headers; undefined for a 0.1.0 filter and the other kinds */
    readonly wanted: WantedHeaders | undefined,
    readonly handle: PluginHandle,
  ) {}

  /** instantiates the serving and the spare instance and, for a filter, reads its wanted phases */
  static async load(binding: PluginBinding, compiled: CompiledPlugin, d: VersionDeps): Promise<LoadedPlugin> {
    if (compiled.kind !== undefined && compiled.kind !== binding.kind) {
      throw new Error(`component is an ${compiled.kind}, but the binding says ${binding.kind}`);
    }
    const slot: ExchangeSlot = { x: undefined };
    const imports: Record<string, unknown> = {
      'weft:plugin/host': createHostImports({ plugin: binding.name, config: binding.config, clock: d.clock, kv: d.kv, log: d.log, metrics: d.metrics }),
    };
    if (binding.kind !== 'l4-policy') imports['weft:plugin/http'] = createHttpImports(slot);
    const pool = new InstancePool({
      plugin: binding.name,
      kind: binding.kind,
      compiled,
      imports,
      slot,
      stats: d.stats,
      fuel: d.fuel,
      defer: d.defer,
      syncRebuild: d.syncRebuild,
      onFailure: d.onFailure,
    });
    const first = await pool.warm();
    let phases = phasesOf(undefined);
    let wanted: WantedHeaders | undefined;
    if (binding.kind === 'http-filter') {
      for (const g of first.fuel) g.value = d.fuel;
      try {
        phases = phasesOf(first.guest.wantedPhases());
      } catch (e) {
        throw new Error(`wanted-phases failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      // a 0.2.0 filter (plugins/wit/weft-plugin.wit) names its headers; a 0.1.0 one has no such export
      if (typeof first.guest.requestHeadersWanted === 'function') {
        for (const g of first.fuel) g.value = d.fuel;
        wanted = { request: headerNames(first.guest, 'requestHeadersWanted'), response: headerNames(first.guest, 'responseHeadersWanted') };
      }
    }
    return new LoadedPlugin(binding, compiled, pool, phases, wanted, makeHandle(pool, binding, phases, wanted));
  }

  /** the same version under changed metadata (order, ports, failStrategy) */
  rebind(binding: PluginBinding): LoadedPlugin {
    return new LoadedPlugin(binding, this.compiled, this.pool, this.phases, this.wanted, makeHandle(this.pool, binding, this.phases, this.wanted));
  }
}

/** a wanted-headers export's answer, checked (a list of non-empty strings) and lower-cased */
function headerNames(guest: any, fn: 'requestHeadersWanted' | 'responseHeadersWanted'): readonly string[] {
  let names: unknown;
  try {
    names = guest[fn]();
  } catch (e) {
    throw new Error(`${fn === 'requestHeadersWanted' ? 'request' : 'response'}-headers-wanted failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && n.length > 0)) {
    throw new Error(`${fn === 'requestHeadersWanted' ? 'request' : 'response'}-headers-wanted returned ${JSON.stringify(names)}, not a list of header names`);
  }
  return Object.freeze(names.map((n: string) => n.toLowerCase()));
}

function makeHandle(pool: InstancePool, b: PluginBinding, phases: Readonly<Required<Phases>>, wanted: WantedHeaders | undefined): PluginHandle {
  switch (b.kind) {
    case 'http-filter':
      return wanted === undefined ? new HttpFilter(pool, b, phases) : new PackedHttpFilter(pool, b, phases, wanted.request, wanted.response);
    case 'l4-policy':
      return new L4Policy(pool, b);
    case 'endpoint-picker':
      return new EndpointPicker(pool, b);
  }
}
