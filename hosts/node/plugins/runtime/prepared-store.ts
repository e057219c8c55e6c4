/**
 * The prepared form of a component on disk: `<root>/<sha256>/` holds jco's glue (`glue.mjs`, its
 * per-call overheads removed: core/plugin/glue-treatment.ts), its core modules UNMETERED (the memory cap is a loader option, so
 * metering happens at load: 15-100 ms) and `manifest.json` (format, sha256, jco version, exports,
 * and the size and sha256 of every file). Beside them, `metered-<pages>/` keeps the core modules
 * metered for one memory cap (written by the first load with that cap, and by build.mjs for the
 * default cap), so a later load skips the meter. A proxy that finds its component prepared never runs
 * jco, whose transpiler would otherwise stay in the proxy's RSS (~120-170 MB, measured).
 *
 * Roots: `<dist>/plugins/prepared/` (the built-ins, written by build.mjs, read-only) and a
 * writable cache (default `$WEFT_STATE_DIR/plugin-cache` when set, else `<tmpdir>/weft-plugin-cache-<uid>`, owner-only). An entry that fails any
 * check is treated as absent (and removed from the writable cache before it is prepared again).
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyGlueRules, GLUE_RULES } from '../../../../core/plugin/glue-treatment.ts';

/** bump when the layout or the glue's treatment changes: older entries are then prepared again */
export const PREPARED_FORMAT = 4;
export const GLUE_FILE = 'glue.mjs';
export const MANIFEST_FILE = 'manifest.json';

/** jco's options: the glue takes its imports and core modules from the host (no Node shims) */
export const TRANSPILE_OPTIONS = { name: 'p', instantiation: 'async', nodejsCompat: false, emitTypescriptDeclarations: false } as const;

export interface PreparedManifest {
  format: number;
  sha256: string;
  jco: string;
  exports: [string, string][];
  glue: { file: string; bytes: number; sha256: string };
  modules: { name: string; bytes: number; sha256: string }[];
}

/** `metered-<pages>/manifest.json` */
interface MeteredManifest {
  format: number;
  pages: number;
  fuelExport: string;
  modules: { name: string; bytes: number; sha256: string }[];
}

/** A prepared entry read back and checked: the glue's path and its core modules. */
export interface PreparedFiles {
  dir: string;
  exports: [string, string][];
  glueFile: string;
  /** core module name (as the glue asks for it) -> unmetered bytes; empty when `metered` is set */
  modules: Map<string, Uint8Array>;
  /** core module name -> sha256 of its unmetered bytes, as the manifest says */
  moduleSha256: Map<string, string>;
  /** the same modules metered for the asked cap, when the entry keeps them */
  metered?: { modules: Map<string, Uint8Array>; fuelExport: string };
}

export type ReadResult = { ok: true; files: PreparedFiles } | { ok: false; absent: boolean; reason: string };

const SAFE_NAME = /^[\w.-]+\.wasm$/;

function hash(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

async function readChecked(dir: string, files: PreparedManifest['modules']): Promise<Map<string, Uint8Array> | string> {
  const out = new Map<string, Uint8Array>();
  const read = await Promise.all(
    files.map(async (f) => {
      if (typeof f?.name !== 'string' || !SAFE_NAME.test(f.name)) return `bad module name ${String(f?.name)}`;
      const b = await readFile(join(dir, f.name));
      if (b.length !== f.bytes || hash(b) !== f.sha256) return `${f.name} does not match the manifest`;
      return [f.name, new Uint8Array(b.buffer, b.byteOffset, b.length)] as const;
    }),
  );
  for (const r of read) {
    if (typeof r === 'string') return r;
    out.set(r[0], r[1]);
  }
  return out;
}

async function readMetered(dir: string, pages: number, names: string[]): Promise<PreparedFiles['metered']> {
  try {
    const mdir = join(dir, `metered-${pages}`);
    const m = JSON.parse(await readFile(join(mdir, MANIFEST_FILE), 'utf8')) as MeteredManifest;
    if (m?.format !== PREPARED_FORMAT || m.pages !== pages || !Array.isArray(m.modules) || typeof m.fuelExport !== 'string') return undefined;
    if (m.modules.map((f) => f?.name).sort().join('\n') !== [...names].sort().join('\n')) return undefined;
    const modules = await readChecked(mdir, m.modules);
    return typeof modules === 'string' ? undefined : { modules, fuelExport: m.fuelExport };
  } catch {
    // absent or damaged: the unmetered modules are metered again
    return undefined;
  }
}

/**
 * `<root>/<sha256>/`, checked file by file against its manifest (about 3 ms of hashing for a
 * QuickJS component); with `meteredPages`, the modules metered for that cap when the entry has them.
 */
export async function readPrepared(root: string, sha256: string, meteredPages?: number): Promise<ReadResult> {
  const dir = join(root, sha256);
  let m: PreparedManifest;
  try {
    m = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as PreparedManifest;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, absent: true, reason: 'absent' };
    return { ok: false, absent: false, reason: `unreadable manifest: ${(e as Error).message}` };
  }
  const bad = (reason: string): ReadResult => ({ ok: false, absent: false, reason });
  if (m?.format !== PREPARED_FORMAT) return bad(`format ${String(m?.format)}, not ${PREPARED_FORMAT}`);
  if (m.sha256 !== sha256) return bad(`manifest names ${String(m.sha256)}`);
  if (!Array.isArray(m.exports) || !Array.isArray(m.modules) || m.glue?.file !== GLUE_FILE) return bad('malformed manifest');
  try {
    const glue = await readFile(join(dir, GLUE_FILE));
    if (glue.length !== m.glue.bytes || hash(glue) !== m.glue.sha256) return bad('glue does not match the manifest');
    const names = m.modules.map((f) => f?.name);
    if (names.some((n) => typeof n !== 'string' || !SAFE_NAME.test(n))) return bad('bad module name');
    const files = { dir, exports: m.exports, glueFile: join(dir, GLUE_FILE), moduleSha256: new Map(m.modules.map((f) => [f.name, String(f.sha256)])) };
    if (meteredPages !== undefined) {
      const metered = await readMetered(dir, meteredPages, names);
      if (metered) return { ok: true, files: { ...files, modules: new Map(), metered } };
    }
    const modules = await readChecked(dir, m.modules);
    if (typeof modules === 'string') return bad(modules);
    return { ok: true, files: { ...files, modules } };
  } catch (e) {
    return bad((e as Error).message);
  }
}

/** keeps `modules` metered for `pages` in the entry (temporary directory, then rename; a lost race is fine) */
export async function writeMetered(dir: string, pages: number, modules: Map<string, Uint8Array>, fuelExport: string): Promise<void> {
  const tmp = join(dir, `.tmp-metered-${pages}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  await mkdir(tmp, { mode: 0o700 });
  try {
    const list: MeteredManifest['modules'] = [];
    for (const [name, b] of modules) {
      await writeFile(join(tmp, name), b);
      list.push({ name, bytes: b.length, sha256: hash(b) });
    }
    const m: MeteredManifest = { format: PREPARED_FORMAT, pages, fuelExport, modules: list };
    await writeFile(join(tmp, MANIFEST_FILE), `${JSON.stringify(m, null, 1)}\n`);
    await rename(tmp, join(dir, `metered-${pages}`));
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
}

/** drops a bad entry from the writable cache, so it can be prepared again under its name */
export async function removePrepared(root: string, sha256: string): Promise<void> {
  // a metered copy being renamed into the entry meanwhile makes rmdir fail with ENOTEMPTY: retry
  await rm(join(root, sha256), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
}

/** marks an entry used (its mtime), so pruning keeps the entries a proxy loads */
export async function touchPrepared(dir: string): Promise<void> {
  const now = new Date();
  await utimes(dir, now, now);
}

/**
 * Keeps the writable cache bounded: the `keep` most recently used entries stay (a loaded plugin
 * needs none of its files once compiled), and leftovers of an interrupted writer older than an hour go.
 */
export async function pruneCache(root: string, keep = 32): Promise<void> {
  const names = await readdir(root);
  const now = Date.now();
  const entries: { name: string; mtime: number }[] = [];
  for (const name of names) {
    const st = await stat(join(root, name)).catch(() => undefined);
    if (!st) continue;
    if (name.startsWith('.')) {
      if (now - st.mtimeMs > 3600_000) await rm(join(root, name), { recursive: true, force: true });
    } else if (/^[0-9a-f]{64}$/.test(name)) {
      entries.push({ name, mtime: st.mtimeMs });
    }
  }
  entries.sort((a, b) => b.mtime - a.mtime);
  // Several proxies (and test runs) share one cache and prune it at once: an entry used or written
  // in the last ten minutes stays whatever the count, so no one's fresh entry goes from under it.
  for (const e of entries.slice(keep)) if (now - e.mtime > 600_000) await rm(join(root, e.name), { recursive: true, force: true });
}

export function defaultPluginCacheDir(): string {
  // a configured state dir holds the cache too (the single binary writes nowhere else)
  if (process.env.WEFT_STATE_DIR) return join(process.env.WEFT_STATE_DIR, 'plugin-cache');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return join(tmpdir(), `weft-plugin-cache-${uid}`);
}

/**
 * Creates the writable cache (mode 0700) and refuses one that is not a directory of ours or that
 * others can write: its glue is imported as code, so in a shared tmpdir it must be ours alone.
 */
export async function ensureCacheDir(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const st = await lstat(root);
  if (!st.isDirectory()) throw new Error(`plugin cache ${root} is not a directory`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && st.uid !== uid) throw new Error(`plugin cache ${root} belongs to uid ${st.uid}, not ${uid}`);
  if ((st.mode & 0o022) !== 0) throw new Error(`plugin cache ${root} is writable by others (mode ${(st.mode & 0o777).toString(8)})`);
}

/**
 * The writer, as module source: the same text runs in the child process (child-transpile.ts) and,
 * imported from a data: URL, in this process (the fallback, build.mjs), so both write one layout.
 * It writes into a temporary directory beside the entry and renames it into place: a reader sees
 * a whole entry or none, and of two concurrent writers the first rename wins.
 */
export const WRITER_SOURCE = `
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
// core/plugin/glue-treatment.ts, as data (this text runs as a module of its own)
const GLUE_RULES = ${JSON.stringify(GLUE_RULES)};
// core/plugin/glue-treatment.ts applyGlueRules, its own text
const treatGlue = (g) => (${applyGlueRules.toString()})(g, GLUE_RULES);
const hash = (b) => createHash('sha256').update(b).digest('hex');
export async function writePrepared(transpile, jco, bytes, root, sha256) {
  const r = await transpile(bytes);
  const tmp = join(root, '.tmp-' + sha256 + '-' + process.pid + '-' + Math.random().toString(36).slice(2));
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  try {
    let glue;
    const modules = [];
    for (const [name, data] of Object.entries(r.files)) {
      if (name.includes('/')) continue;
      if (name === 'p.js') {
        // per-call overheads removed (the JCO_DEBUG check, task bookkeeping, string crossing): glue-treatment.ts
        glue = treatGlue(Buffer.from(data).toString('utf8'));
      } else if (/^[\\w.-]+\\.wasm$/.test(name)) {
        await writeFile(join(tmp, name), data);
        modules.push({ name, bytes: data.length, sha256: hash(data) });
      }
    }
    if (glue === undefined) throw new Error('jco produced no glue (p.js)');
    await writeFile(join(tmp, ${JSON.stringify(GLUE_FILE)}), glue);
    const g = Buffer.from(glue);
    const manifest = { format: ${PREPARED_FORMAT}, sha256, jco, exports: r.exports, glue: { file: ${JSON.stringify(GLUE_FILE)}, bytes: g.length, sha256: hash(g) }, modules };
    await writeFile(join(tmp, ${JSON.stringify(MANIFEST_FILE)}), JSON.stringify(manifest, null, 1) + '\\n');
    try {
      await rename(tmp, join(root, sha256));
    } catch (e) {
      // another process prepared it first (its entry is checked when read)
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
`;
