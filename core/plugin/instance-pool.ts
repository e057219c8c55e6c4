/**
 * The instances of one loaded plugin version: one serving and one spare already warmed, so that
 * after a failure (which poisons a component instance: "cannot enter component instance") the
 * next call runs at once on the spare while a new spare is built in the background.
 *
 * Containment: before each guest call every fuel counter of the instance (one per metered core
 * module, see wasm-meter.ts) is set to the budget, so a runaway guest traps after ~budget of
 * work instead of hanging the thread; each memory's maximum is capped by the loader.
 */
import type { PluginKind } from './contract.ts';
import { EXPORT_OF_KIND, type CompiledPlugin } from './compiled-plugin.ts';
import type { ExchangeSlot } from './host-imports.ts';
import { makeRefiller } from './fuel-refill.ts';

export type FailureCause = 'trap' | 'timeout' | 'memory' | 'error';

/** Counters of one plugin name across its versions (PluginStatus's numbers). */
export interface PluginStats {
  calls: number;
  failures: { trap: number; timeout: number; memory: number; error: number };
  recycles: number;
}

export function newStats(): PluginStats {
  return { calls: 0, failures: { trap: 0, timeout: 0, memory: 0, error: 0 }, recycles: 0 };
}

/** One component instance: the world's export object and its containment handles. */
export interface GuestInstance {
  // the world's export (filter, connectionPolicy or picker) as the glue lifts it
  guest: any;
  fuel: WebAssembly.Global[];
  memories: WebAssembly.Memory[];
  /** sets every fuel counter in one Wasm call (fuel-refill.ts); absent: set them one by one */
  refill?: (budget: number) => void;
}

export interface PoolOptions {
  plugin: string;
  kind: PluginKind;
  compiled: CompiledPlugin;
  /** the import object (`weft:plugin/host`, `weft:plugin/http`), shared by the instances */
  imports: Record<string, unknown>;
  slot: ExchangeSlot;
  stats: PluginStats;
  /** fuel units per call (wasm-meter.ts: ~95k per ms of QuickJS work) */
  fuel: number;
  /** runs work off the current call (a new spare) */
  defer: (fn: () => void) => void;
  /**
   * when failures come faster than spares are built: build the next instance inside the call
   * (tests, `weft plugin test`) instead of answering by failStrategy until the spare is ready
   * (a proxy: a guest failing on every request must not cost every request an instantiation)
   */
  syncRebuild?: boolean;
  /** told about each failure (rate limiting is the receiver's) */
  onFailure?: (plugin: string, cause: FailureCause, err: unknown) => void;
}

export class InstancePool {
  readonly slot: ExchangeSlot;
  readonly stats: PluginStats;
  private ready: GuestInstance | undefined;
  private spare: GuestInstance | undefined;
  private spareBuilding = false;
  private readonly exportName: string;

  constructor(private readonly o: PoolOptions) {
    this.slot = o.slot;
    this.stats = o.stats;
    this.exportName = EXPORT_OF_KIND[o.kind];
  }

  /** builds the serving and the spare instance; rejects if either cannot be built */
  async warm(): Promise<GuestInstance> {
    this.ready = await this.build();
    this.spare = await this.build();
    return this.ready;
  }

  /**
   * The instance for the next call, its fuel refilled and the exchange set; undefined when none
   * can be had now (the caller answers by failStrategy).
   */
  enter(x: ExchangeSlot['x']): any {
    let inst = this.ready;
    if (inst === undefined) {
      inst = this.takeSpareOrBuild();
      if (inst === undefined) return undefined;
    }
    const refill = inst.refill;
    if (refill !== undefined) refill(this.o.fuel);
    else {
      const fuel = inst.fuel;
      for (let i = 0; i < fuel.length; i++) fuel[i]!.value = this.o.fuel;
    }
    this.stats.calls++;
    this.slot.x = x;
    return inst.guest;
  }

  /** after the call returned (or threw): no exchange outside a call */
  leave(): void {
    this.slot.x = undefined;
  }

  /** counts the failure, retires the instance and serves the spare */
  fail(err: unknown, cause?: FailureCause): FailureCause {
    this.slot.x = undefined;
    const inst = this.ready;
    const c = cause ?? (inst ? this.classify(err, inst) : 'error');
    this.stats.failures[c]++;
    this.stats.recycles++;
    this.ready = this.spare;
    this.spare = undefined;
    this.scheduleSpare();
    this.o.onFailure?.(this.o.plugin, c, err);
    return c;
  }

  private classify(err: unknown, inst: GuestInstance): FailureCause {
    for (const g of inst.fuel) if ((g.value as number) <= 0) return 'timeout';
    const cap = this.o.compiled.memoryMaxBytes;
    if (cap > 0) {
      // QuickJS turns a failed memory.grow into an out-of-memory exception, then a trap: tell it by
      // a memory within one allocation's growth of its cap (an eighth of the cap, at least 256 KiB)
      const near = cap - Math.max(cap / 8, 262144);
      for (const m of inst.memories) if (m.buffer.byteLength >= near) return 'memory';
    }
    if (err instanceof WebAssembly.RuntimeError) {
      // an uncaught guest exception ends in `unreachable` (QuickJS aborts); other traps are bugs
      return /unreachable/.test(err.message) ? 'error' : 'trap';
    }
    // stack overflow inside the guest
    if (err instanceof RangeError) return 'trap';
    return 'error';
  }

  private takeSpareOrBuild(): GuestInstance | undefined {
    if (this.spare !== undefined) {
      this.ready = this.spare;
      this.spare = undefined;
      this.scheduleSpare();
      return this.ready;
    }
    if (!this.o.syncRebuild) {
      this.scheduleSpare();
      return undefined;
    }
    // no spare yet (failures in a row): build now if the glue can do it synchronously
    try {
      const r = this.buildNow();
      if (r instanceof Promise) {
        r.then(
          (i) => {
            if (this.ready === undefined) this.ready = i;
          },
          () => {},
        );
        return undefined;
      }
      this.ready = r;
      this.scheduleSpare();
      return r;
    } catch {
      return undefined;
    }
  }

  private scheduleSpare(): void {
    if (this.spareBuilding || this.spare !== undefined) return;
    this.spareBuilding = true;
    this.o.defer(() => {
      const took = (i: GuestInstance) => {
        this.spareBuilding = false;
        if (this.ready === undefined) {
          // it serves at once; build the spare behind it
          this.ready = i;
          this.scheduleSpare();
        } else if (this.spare === undefined) this.spare = i;
      };
      const failed = (e: unknown) => {
        this.spareBuilding = false;
        this.o.onFailure?.(this.o.plugin, 'error', e);
      };
      try {
        const r = this.buildNow();
        if (r instanceof Promise) r.then(took, failed);
        else took(r);
      } catch (e) {
        failed(e);
      }
    });
  }

  private async build(): Promise<GuestInstance> {
    return this.buildNow();
  }

  private buildNow(): GuestInstance | Promise<GuestInstance> {
    const { compiled, imports } = this.o;
    const fuel: WebAssembly.Global[] = [];
    const memories: WebAssembly.Memory[] = [];
    const fuelExport = compiled.fuelExport;
    const budget = this.o.fuel;
    const instantiateCore = (m: WebAssembly.Module, i?: WebAssembly.Imports): WebAssembly.Instance => {
      const inst = new WebAssembly.Instance(m, i);
      const ex = inst.exports;
      if (fuelExport) {
        const g = ex[fuelExport];
        if (g instanceof WebAssembly.Global) {
          // a start function or the glue's init may run guest code before the first call
          g.value = budget;
          fuel.push(g);
        }
      }
      for (const k in ex) {
        const v = ex[k];
        if (v instanceof WebAssembly.Memory) memories.push(v);
      }
      return inst;
    };
    const done = (exports: unknown): GuestInstance => {
      const guest = (exports as Record<string, unknown> | undefined)?.[this.exportName];
      if (guest === undefined || guest === null || typeof guest !== 'object') {
        throw new Error(`component does not export '${this.exportName}' (is it a ${this.o.kind}?)`);
      }
      return { guest, fuel, memories, refill: makeRefiller(fuel) };
    };
    const r = compiled.instantiate((n) => compiled.getCoreModule(n), imports, instantiateCore);
    return r instanceof Promise ? r.then(done) : done(r);
  }
}
