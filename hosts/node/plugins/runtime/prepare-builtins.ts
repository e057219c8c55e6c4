/**
 * build.mjs's last plugin step: every built-in `<pluginsDir>/<name>.wasm` gets its prepared form in
 * `<pluginsDir>/prepared/<sha256>/` (prepared-store.ts), with its core modules metered for the
 * default memory cap, so a proxy that loads a built-in runs no transpiler and no meter. Entries of
 * components no longer built are removed. jco runs in the build's own process here.
 */
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_MEMORY_MAX_MIB, meterAll } from './compile-component.ts';
import { prepareInProcess } from './child-transpile.ts';
import { sha256Hex } from './fetch-component.ts';
import { readPrepared, removePrepared, writeMetered, type PreparedFiles } from './prepared-store.ts';
import { componentParts } from '../../../../core/plugin/component-parts.ts';
import { coreModuleName, shapeHash, SHAPES_FILE } from './shape-cache.ts';

export async function prepareBuiltins(pluginsDir: string, log: (line: string) => void = () => {}): Promise<void> {
  const root = join(pluginsDir, 'prepared');
  await mkdir(root, { recursive: true });
  const pages = Math.floor(DEFAULT_MEMORY_MAX_MIB * 16);
  const keep = new Set<string>([SHAPES_FILE]);
  // shape -> a built-in of that shape: a plugin of the same world loads with its glue, no jco (shape-cache.ts)
  const shapes: Record<string, string> = {};
  const index = (bytes: Uint8Array, sha: string, files: PreparedFiles) => {
    const parts = componentParts(bytes);
    // only where the modules read from the component are jco's, in jco's order
    if (!parts || !parts.modules.every((m, i) => files.moduleSha256.get(coreModuleName(i)) === sha256Hex(m))) return;
    shapes[shapeHash(parts)] ??= sha;
  };
  for (const f of (await readdir(pluginsDir)).filter((n) => n.endsWith('.wasm')).sort()) {
    const bytes = new Uint8Array(await readFile(join(pluginsDir, f)));
    const sha = sha256Hex(bytes);
    keep.add(sha);
    let r = await readPrepared(root, sha, pages);
    if (r.ok && r.files.metered) {
      index(bytes, sha, r.files);
      continue;
    }
    const t = performance.now();
    if (!r.ok) {
      if (!r.absent) await removePrepared(root, sha);
      await prepareInProcess(bytes, sha, root);
      r = await readPrepared(root, sha);
      if (!r.ok) throw new Error(`prepared ${f} is unusable: ${r.reason}`);
    }
    index(bytes, sha, r.files);
    const m = meterAll(r.files.modules, DEFAULT_MEMORY_MAX_MIB);
    await writeMetered(r.files.dir, pages, m.modules, m.fuelExport);
    // the writer makes owner-only directories (a cache in a shared tmpdir); these ship with the bundle
    await chmod(r.files.dir, 0o755);
    await chmod(join(r.files.dir, `metered-${pages}`), 0o755);
    log(`prepared ${f.padEnd(20)} ${sha.slice(0, 12)}  (${Math.round(performance.now() - t)} ms)`);
  }
  await writeFile(join(root, SHAPES_FILE), `${JSON.stringify(shapes, null, 1)}\n`, { mode: 0o644 });
  for (const d of await readdir(root)) if (!keep.has(d)) await rm(join(root, d), { recursive: true, force: true });
}
