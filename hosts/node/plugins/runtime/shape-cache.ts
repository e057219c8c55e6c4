/**
 * The fast path for a rebuilt plugin (issue 5: a swap under 200 ms). Measured on a warm proxy
 * (test/bench/plugins/swap-profile.ts), a component never seen cost ~1.1 s, of which ~1 s was
 * jco's transpile in its child process; metering took 20-70 ms and compiling 10-30 ms.
 *
 * Two caches, one pair per loader (a proxy has one loader for its life; tests get their own):
 * - glue by shape (core/plugin/component-parts.ts): jco's glue and its own extra core modules,
 *   for every component of one shape (same world, same toolchain: every QuickJS http-filter built
 *   by `weft plugin build` shares one, the built-ins' included). Filled from each component prepared
 *   the slow way, only once the component's core modules as read from its bytes were found
 *   byte-identical, in jco's order, to the ones jco wrote (so the naming `getCoreModule` relies on is
 *   checked, not assumed), and from the built-ins' index (`prepared/shapes.json`, checked the same
 *   way by prepare-builtins.ts at build time).
 * - compiled modules by content: the sha256 of a core module's exact (unmetered) bytes, with the
 *   memory cap and the meter's format. The 1.3 MB QuickJS engine is the same in every plugin and
 *   is metered and compiled once; a module differing in one byte (another engine) has another key
 *   and is metered and compiled from its own bytes.
 * A miss in either takes jco's path as before. The sandbox is unchanged: every module is metered
 * for the asked cap before it is compiled, and a new version is still instantiated and warmed
 * beside the serving one (runtime.ts).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PluginKind } from '../../../../core/plugin/contract.ts';
import type { GlueInstantiate } from '../../../../core/plugin/compiled-plugin.ts';
import type { ComponentParts } from '../../../../core/plugin/component-parts.ts';
import { FUEL_EXPORT, meterModule } from '../../../../core/plugin/wasm-meter.ts';
import { PREPARED_FORMAT, readPrepared } from './prepared-store.ts';

/** jco's name for the i-th core module of a component (wasmtime's static module index) */
export function coreModuleName(i: number): string {
  return i === 0 ? 'p.core.wasm' : `p.core${i + 1}.wasm`;
}

export interface CompiledModule {
  module: WebAssembly.Module;
  /** the meter added a fuel counter (the module has code) */
  fuel: boolean;
}

/** one shape's glue, as loaded for a memory cap */
export interface ShapeEntry {
  kind: PluginKind | undefined;
  instantiate: GlueInstantiate;
  /** how many core modules the component itself holds (the rest are jco's own, in `extra`) */
  count: number;
  extra: Map<string, WebAssembly.Module>;
  /** whether jco's extra modules carry fuel counters (the component's own are judged by the meter) */
  extraFuel: boolean;
}

/** `<root>/shapes.json`: shape hash -> sha256 of a prepared entry of that shape (written by prepare-builtins.ts) */
export const SHAPES_FILE = 'shapes.json';

const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** the cache key of one core module: its exact bytes, the cap, and the meter's format */
export function moduleKey(unmeteredSha256: string, pages: number): string {
  return `${unmeteredSha256}:${pages}:${PREPARED_FORMAT}`;
}

/** the hash of a component's shape, as prepare-builtins.ts indexes it */
export function shapeHash(parts: ComponentParts): string {
  return hash(parts.shape);
}

export function shapeKey(parts: ComponentParts, pages: number): string {
  return `${shapeHash(parts)}:${pages}:${PREPARED_FORMAT}`;
}

/** each core module's sha256, computed once per parts (~3 ms for a QuickJS component) */
const shaOf = new WeakMap<ComponentParts, string[]>();
export function moduleShas(parts: ComponentParts): string[] {
  let s = shaOf.get(parts);
  if (s === undefined) shaOf.set(parts, (s = parts.modules.map((m) => hash(m))));
  return s;
}

function remember<K, V>(m: Map<K, V>, k: K, v: V, max: number): void {
  m.delete(k);
  m.set(k, v);
  if (m.size > max) m.delete(m.keys().next().value as K);
}

function moduleHasFuel(m: WebAssembly.Module): boolean {
  return WebAssembly.Module.exports(m).some((e) => e.name === FUEL_EXPORT && e.kind === 'global');
}

/** bytes metered already (a prepared entry's copy): compiled, with whether the meter added a counter */
async function compileMetered(metered: Uint8Array): Promise<CompiledModule> {
  const module = await WebAssembly.compile(metered as Uint8Array<ArrayBuffer>);
  return { module, fuel: moduleHasFuel(module) };
}

export class ShapeCache {
  private readonly modules = new Map<string, Promise<CompiledModule>>();
  private readonly shapes = new Map<string, ShapeEntry>();
  private readonly indexes = new Map<string, Promise<Record<string, string>>>();
  /** how many modules were metered and compiled from bytes (tests) */
  compiles = 0;

  constructor(
    private readonly maxModules = 48,
    private readonly maxShapes = 8,
  ) {}

  /** a core module metered for `pages` and compiled, once per content */
  compiledModule(unmetered: Uint8Array, pages: number, sha = hash(unmetered)): Promise<CompiledModule> {
    const key = moduleKey(sha, pages);
    let p = this.modules.get(key);
    if (p === undefined) {
      this.compiles++;
      p = (async () => {
        const m = meterModule(unmetered, { memoryMaxPages: pages });
        return { module: await WebAssembly.compile(m.bytes as Uint8Array<ArrayBuffer>), fuel: m.fuelExport !== '' };
      })();
      p.catch(() => this.modules.delete(key));
    }
    remember(this.modules, key, p, this.maxModules);
    return p;
  }

  private seed(unmeteredSha256: string, pages: number, m: CompiledModule): void {
    const key = moduleKey(unmeteredSha256, pages);
    if (!this.modules.has(key)) remember(this.modules, key, Promise.resolve(m), this.maxModules);
  }

  find(key: string): ShapeEntry | undefined {
    const e = this.shapes.get(key);
    if (e) remember(this.shapes, key, e, this.maxShapes);
    return e;
  }

  /**
   * After the slow path: keeps the shape's glue when `parts` (read from the component's bytes) are,
   * in jco's order, exactly the modules jco wrote (`jcoSha256`: name -> sha256 of the unmetered
   * bytes), and the compiled modules under their contents. Returns whether the shape was kept.
   */
  remember(
    key: string,
    parts: ComponentParts,
    jcoSha256: ReadonlyMap<string, string>,
    compiled: ReadonlyMap<string, WebAssembly.Module>,
    o: { kind: PluginKind | undefined; instantiate: GlueInstantiate; pages: number },
  ): boolean {
    const shas = moduleShas(parts);
    for (let i = 0; i < shas.length; i++) if (jcoSha256.get(coreModuleName(i)) !== shas[i]) return false;
    const extra = new Map<string, WebAssembly.Module>();
    const own = new Map(shas.map((s, i) => [coreModuleName(i), s]));
    for (const [name, m] of compiled) {
      const s = own.get(name);
      if (s !== undefined) this.seed(s, o.pages, { module: m, fuel: moduleHasFuel(m) });
      else extra.set(name, m);
    }
    if (extra.size + shas.length !== jcoSha256.size) return false;
    const extraFuel = [...extra.values()].some(moduleHasFuel);
    remember(this.shapes, key, { kind: o.kind, instantiate: o.instantiate, count: shas.length, extra, extraFuel }, this.maxShapes);
    return true;
  }

  /**
   * A shape not seen by this loader, from a prepared root's index (the built-ins: every QuickJS
   * http-filter shares the shape of header-rewrite, every l4-policy that of l4-allow-list): that
   * entry's glue and jco's extra modules, and its metered copies of the modules the new component
   * shares byte for byte (the engine).
   */
  async fromPrepared(
    roots: readonly string[],
    own256: string,
    parts: ComponentParts,
    key: string,
    pages: number,
    load: (url: string) => Promise<unknown>,
    kindOf: (exports: [string, string][]) => PluginKind | undefined,
  ): Promise<ShapeEntry | undefined> {
    const want = shapeHash(parts);
    for (const root of roots) {
      let idx = this.indexes.get(root);
      if (idx === undefined) {
        idx = readFile(join(root, SHAPES_FILE), 'utf8').then(
          (t) => JSON.parse(t) as Record<string, string>,
          () => ({}),
        );
        this.indexes.set(root, idx);
      }
      const sha = (await idx)[want];
      if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)) continue;
      // the component's own entry when the root has it (a built-in: every module metered already), else the index's
      let r = own256 !== sha ? await readPrepared(root, own256, pages) : undefined;
      if (!r?.ok) r = await readPrepared(root, sha, pages);
      if (!r.ok) continue;
      const f = r.files;
      const count = parts.modules.length;
      const own = new Map(moduleShas(parts).map((s, i) => [coreModuleName(i), s]));
      const extra = new Map<string, WebAssembly.Module>();
      let complete = true;
      for (const [n, entrySha] of f.moduleSha256) {
        const metered = f.metered?.modules.get(n);
        if (own.has(n)) {
          // the entry's copy serves the new component only where the bytes are the same (the engine)
          if (metered && own.get(n) === entrySha && !this.modules.has(moduleKey(entrySha, pages))) this.seed(entrySha, pages, await compileMetered(metered));
          continue;
        }
        const unmetered = f.modules.get(n);
        if (!metered && !unmetered) {
          complete = false;
          break;
        }
        extra.set(n, (metered ? await compileMetered(metered) : await this.compiledModule(unmetered!, pages, entrySha)).module);
      }
      if (!complete || extra.size + count !== f.moduleSha256.size) continue;
      const glue = (await load(pathToFileURL(f.glueFile).href)) as { instantiate?: GlueInstantiate };
      if (typeof glue.instantiate !== 'function') continue;
      const e: ShapeEntry = { kind: kindOf(f.exports), instantiate: glue.instantiate, count, extra, extraFuel: [...extra.values()].some(moduleHasFuel) };
      remember(this.shapes, key, e, this.maxShapes);
      return e;
    }
    return undefined;
  }

  /** the component's modules by jco's names: its own from the module cache, jco's from the shape */
  async compileByShape(parts: ComponentParts, shape: ShapeEntry, pages: number): Promise<{ modules: Map<string, WebAssembly.Module>; fuelExport: string }> {
    if (parts.modules.length !== shape.count) throw new Error('shape mismatch: core module count');
    const shas = moduleShas(parts);
    const own = await Promise.all(parts.modules.map((b, i) => this.compiledModule(b, pages, shas[i])));
    const out = new Map<string, WebAssembly.Module>(shape.extra);
    let fuel = shape.extraFuel;
    own.forEach((c, i) => {
      out.set(coreModuleName(i), c.module);
      if (c.fuel) fuel = true;
    });
    return { modules: out, fuelExport: fuel ? FUEL_EXPORT : '' };
  }

  /** tests: what is cached */
  sizes(): { modules: number; shapes: number } {
    return { modules: this.modules.size, shapes: this.shapes.size };
  }
}
