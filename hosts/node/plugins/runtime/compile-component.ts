/**
 * Component bytes -> CompiledPlugin. A component of a shape the loader knows (a rebuilt plugin:
 * shape-cache.ts) takes that shape's glue and only its changed core modules are metered and
 * compiled; no jco. Otherwise the component's prepared form (prepared-store.ts: jco's glue
 * and unmetered core modules) is looked up on disk by sha256, first among the prepared built-ins
 * shipped with the bundle, then in the writable cache; a component not prepared yet is prepared
 * by a child process (child-transpile.ts), so jco never runs in the proxy. Then every core module
 * is metered (fuel counter, memory cap: core/plugin/wasm-meter.ts) and compiled, and the glue is
 * imported from its file. Without a cache dir (or when it cannot be created), jco runs in this
 * process (transpile.ts) and the glue is imported from a data: URL.
 */
import v8 from 'node:v8';
import { pathToFileURL } from 'node:url';
import type { PluginKind } from '../../../../core/plugin/contract.ts';
import type { CompiledPlugin, GlueInstantiate } from '../../../../core/plugin/compiled-plugin.ts';
import { FUEL_EXPORT, meterModule } from '../../../../core/plugin/wasm-meter.ts';
import { treatGlue } from '../../../../core/plugin/glue-treatment.ts';
import { ChildUnavailableError, prepareInChild, prepareInProcess, type Spawner } from './child-transpile.ts';
import { ensureCacheDir, pruneCache, readPrepared, removePrepared, touchPrepared, writeMetered, type PreparedFiles } from './prepared-store.ts';
import { transpileComponent } from './transpile.ts';
import { componentParts } from '../../../../core/plugin/component-parts.ts';
import { shapeKey, type ShapeCache } from './shape-cache.ts';
import { sha256Hex } from './fetch-component.ts';
import { binaryRuntime, notPreparedMessage } from '../../binary/runtime.ts';

let flagsSet = false;
/** QuickJS output uses extended-const, behind a flag on Node 20; set before the first compile */
export function enableWasmFeatures(): void {
  if (flagsSet) return;
  flagsSet = true;
  v8.setFlagsFromString('--experimental-wasm-extended-const');
  // WEFT_WASM_TIER=baseline: plugins run on V8's baseline compiler only (Liftoff). V8 otherwise
  // recompiles a plugin's hot functions with TurboFan in the background, which kept ~13 MB more RSS
  // per QuickJS plugin; `weft up` on a small device may prefer that memory to the call speed.
  if (process.env.WEFT_WASM_TIER === 'baseline') v8.setFlagsFromString('--liftoff-only');
}

/** the loader's default per-instance memory cap (MiB): the built-ins ship metered for it */
export const DEFAULT_MEMORY_MAX_MIB = 64;

export interface CompileOptions {
  /** cap each instance memory (MiB) */
  memoryMaxMiB: number;
  /** read-only roots of prepared components, looked in first (the built-ins' `<dist>/plugins/prepared/`) */
  preparedDirs?: readonly string[];
  /** the writable root: prepared components are read from and written to `<cacheDir>/<sha256>/` */
  cacheDir?: string;
  /** how a child is started (tests count them) */
  spawn?: Spawner;
  /** told how a component that was not prepared got prepared */
  onPrepare?: (how: 'child' | 'in-process' | 'memory', why?: string) => void;
  /** told how long each step took (test/bench/plugins/swap-profile.ts) */
  onStep?: StepTimer;
  /** glue by shape, compiled modules by content (shape-cache.ts); absent: every component never seen goes through jco */
  shapes?: ShapeCache;
}

export type StepTimer = (step: string, ms: number) => void;

/** runs `f`, telling `onStep` its duration under `name` */
async function timed<T>(onStep: StepTimer | undefined, name: string, f: () => Promise<T> | T): Promise<T> {
  if (!onStep) return f();
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    onStep(name, performance.now() - t0);
  }
}


export function kindOf(exports: [string, string][]): PluginKind | undefined {
  for (const [name] of exports) {
    if (name === 'filter' || name.startsWith('weft:plugin/filter')) return 'http-filter';
    if (name === 'connectionPolicy' || name === 'connection-policy' || name.startsWith('weft:plugin/connection-policy')) return 'l4-policy';
    if (name === 'picker' || name.startsWith('weft:plugin/picker')) return 'endpoint-picker';
  }
  return undefined;
}

/** What a component becomes before compiling: jco's glue (debug check removed) and metered core modules. */
export interface PreparedComponent {
  kind: PluginKind | undefined;
  glue: string;
  /** core module name (as the glue asks for it) -> metered bytes */
  modules: Map<string, Uint8Array>;
  fuelExport: string;
  memoryMaxBytes: number;
}

/**
 * Transpile and meter, no compiling: the part a host that cannot compile at run time (workerd) has
 * done for it ahead of time (test/runtime/plugins-parity.test.ts does it so for Deno and workerd).
 */
export async function prepareComponent(bytes: Uint8Array, o: Pick<CompileOptions, 'memoryMaxMiB'>): Promise<PreparedComponent> {
  const t = await transpileInMemory(bytes);
  return { kind: kindOf(t.exports), glue: t.glue, ...meterAll(t.modules, o.memoryMaxMiB) };
}

function memoryMaxPagesOf(memoryMaxMiB: number): number {
  return Math.floor(memoryMaxMiB * 16);
}

/** every core module metered for the cap (export: build.mjs keeps the built-ins metered for the default cap) */
export function meterAll(unmetered: Map<string, Uint8Array>, memoryMaxMiB: number): Pick<PreparedComponent, 'modules' | 'fuelExport' | 'memoryMaxBytes'> {
  const memoryMaxPages = memoryMaxPagesOf(memoryMaxMiB);
  const modules = new Map<string, Uint8Array>();
  let fuelExport = '';
  for (const [n, b] of unmetered) {
    const m = meterModule(b, { memoryMaxPages });
    if (m.fuelExport) fuelExport = FUEL_EXPORT;
    modules.set(n, m.bytes);
  }
  return { modules, fuelExport, memoryMaxBytes: memoryMaxPages * 65536 };
}

/** jco in this process (transpile.ts: a worker thread, else this thread), nothing written */
async function transpileInMemory(bytes: Uint8Array): Promise<{ exports: [string, string][]; glue: string; modules: Map<string, Uint8Array> }> {
  let r;
  try {
    r = await transpileComponent(bytes);
  } catch (e) {
    throw new Error(`cannot transpile the component: ${e instanceof Error ? e.message : String(e)}`);
  }
  const files = r.files;
  const glueBytes = files['p.js'];
  if (!glueBytes) throw new Error('jco produced no glue (p.js)');
  // per-call overheads removed (the JCO_DEBUG check, task bookkeeping, string crossing): glue-treatment.ts
  const glue = treatGlue(Buffer.from(glueBytes).toString('utf8'));
  const modules = new Map<string, Uint8Array>();
  for (const n of Object.keys(files)) if (n.endsWith('.wasm') && !n.includes('/')) modules.set(n, files[n]!);
  return { exports: r.exports, glue, modules };
}

/** the prepared entry of `sha256`, prepared now when no root has a sound one; undefined: no usable cache */
async function findOrPrepare(bytes: Uint8Array, sha256: string, o: CompileOptions, pages: number): Promise<(PreparedFiles & { writable?: boolean }) | undefined> {
  for (const root of o.preparedDirs ?? []) {
    const r = await timed(o.onStep, 'read prepared', () => readPrepared(root, sha256, pages));
    if (r.ok) return r.files;
  }
  const root = o.cacheDir;
  if (!root) return undefined;
  try {
    await ensureCacheDir(root);
  } catch (e) {
    o.onPrepare?.('memory', (e as Error).message);
    return undefined;
  }
  const r = await timed(o.onStep, 'read prepared', () => readPrepared(root, sha256, pages));
  if (r.ok) {
    touchPrepared(r.files.dir).catch(() => undefined);
    return { ...r.files, writable: true };
  }
  if (!r.absent) await removePrepared(root, sha256);
  // the single binary carries no jco: only components prepared already load there
  if (binaryRuntime()) throw new Error(notPreparedMessage(sha256, root));
  let how: 'child' | 'in-process' = 'child';
  let why: string | undefined;
  try {
    await timed(o.onStep, 'transpile (child round trip)', () => prepareInChild(bytes, sha256, root, o.spawn));
  } catch (e) {
    if (!(e instanceof ChildUnavailableError)) throw new Error(`cannot transpile the component: ${(e as Error).message}`);
    how = 'in-process';
    why = e.message;
    try {
      await prepareInProcess(bytes, sha256, root);
    } catch (e2) {
      throw new Error(`cannot transpile the component: ${e2 instanceof Error ? e2.message : String(e2)}`);
    }
  }
  o.onPrepare?.(how, why);
  const again = await timed(o.onStep, 'read prepared', () => readPrepared(root, sha256, pages));
  if (!again.ok) throw new Error(`the prepared component in ${root} is unusable: ${again.reason}`);
  // after the read: the entry just written must not be pruned from under it
  pruneCache(root).catch(() => undefined);
  return { ...again.files, writable: true };
}

export async function compileComponent(bytes: Uint8Array, sha256: string, o: CompileOptions): Promise<CompiledPlugin> {
  enableWasmFeatures();
  const pages = memoryMaxPagesOf(o.memoryMaxMiB);
  // a rebuilt plugin of a shape seen before: no jco, and only its changed modules metered and compiled (shape-cache.ts)
  const shapes = o.shapes;
  const parts = shapes ? await timed(o.onStep, 'component parts', () => componentParts(bytes)) : undefined;
  const key = parts ? shapeKey(parts, pages) : undefined;
  const load = binaryRuntime()?.importModule ?? ((u: string) => import(/* @vite-ignore */ u));
  let shape = key ? shapes!.find(key) : undefined;
  if (parts && key && !shape) shape = await timed(o.onStep, 'shape from a prepared built-in', () => shapes!.fromPrepared(o.preparedDirs ?? [], sha256, parts, key, pages, load, kindOf));
  if (parts && shape) {
    const found = shape;
    const c = await timed(o.onStep, 'meter + compile (by content)', () => shapes!.compileByShape(parts, found, pages));
    return compiledPlugin(sha256, shape.kind, shape.instantiate, c.modules, c.fuelExport, pages);
  }
  const files = await findOrPrepare(bytes, sha256, o, pages);
  let kind: PluginKind | undefined;
  let glueUrl: string;
  let unmetered: Map<string, Uint8Array>;
  let p: Pick<PreparedComponent, 'modules' | 'fuelExport' | 'memoryMaxBytes'> | undefined;
  if (files) {
    kind = kindOf(files.exports);
    glueUrl = pathToFileURL(files.glueFile).href;
    unmetered = files.modules;
    if (files.metered) p = { ...files.metered, memoryMaxBytes: pages * 65536 };
  } else {
    if (binaryRuntime()) throw new Error(notPreparedMessage(sha256, o.cacheDir));
    const t = await transpileInMemory(bytes);
    if (!o.cacheDir) o.onPrepare?.('memory');
    kind = kindOf(t.exports);
    glueUrl = `data:text/javascript;base64,${Buffer.from(t.glue).toString('base64')}`;
    unmetered = t.modules;
  }
  if (!p) {
    p = await timed(o.onStep, 'meter', () => meterAll(unmetered, o.memoryMaxMiB));
    // the next load with this cap skips the meter (only in the writable cache; a failure costs nothing)
    if (files?.writable) writeMetered(files.dir, pages, p.modules, p.fuelExport).catch(() => undefined);
  }
  const meteredModules = p.modules;
  const compiled = await timed(o.onStep, 'compile', () => Promise.all([...meteredModules].map(async ([n, b]) => [n, await WebAssembly.compile(b as Uint8Array<ArrayBuffer>)] as const)));
  const modules = new Map<string, WebAssembly.Module>(compiled);
  const glueModule = (await timed(o.onStep, 'glue import', () => load(glueUrl))) as { instantiate?: GlueInstantiate };
  if (typeof glueModule.instantiate !== 'function') throw new Error('jco glue has no instantiate export');
  if (shapes && parts && key) {
    const jcoSha256 = files ? files.moduleSha256 : new Map([...unmetered].map(([n, b]) => [n, sha256Hex(b)]));
    shapes.remember(key, parts, jcoSha256, modules, { kind, instantiate: glueModule.instantiate, pages });
  }
  return compiledPlugin(sha256, kind, glueModule.instantiate, modules, p.fuelExport, pages);
}

function compiledPlugin(sha256: string, kind: PluginKind | undefined, instantiate: GlueInstantiate, modules: ReadonlyMap<string, WebAssembly.Module>, fuelExport: string, pages: number): CompiledPlugin {
  return {
    sha256,
    kind,
    instantiate,
    getCoreModule(name) {
      const m = modules.get(name);
      if (!m) throw new Error(`jco glue asked for an unknown core module ${name}`);
      return m;
    },
    fuelExport,
    memoryMaxBytes: pages * 65536,
  };
}
