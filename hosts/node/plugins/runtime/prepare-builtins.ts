/**
 * build.mjs's last plugin step: every built-in `<pluginsDir>/<name>.wasm` gets its prepared form in
 * `<pluginsDir>/prepared/<sha256>/` (prepared-store.ts), with its core modules metered for the
 * default memory cap, so a proxy that loads a built-in runs no transpiler and no meter. Entries of
 * components no longer built are removed. jco runs in the build's own process here.
 */
import { chmod, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_MEMORY_MAX_MIB, meterAll } from './compile-component.ts';
import { prepareInProcess } from './child-transpile.ts';
import { sha256Hex } from './fetch-component.ts';
import { readPrepared, removePrepared, writeMetered } from './prepared-store.ts';

export async function prepareBuiltins(pluginsDir: string, log: (line: string) => void = () => {}): Promise<void> {
  const root = join(pluginsDir, 'prepared');
  await mkdir(root, { recursive: true });
  const pages = Math.floor(DEFAULT_MEMORY_MAX_MIB * 16);
  const keep = new Set<string>();
  for (const f of (await readdir(pluginsDir)).filter((n) => n.endsWith('.wasm')).sort()) {
    const bytes = new Uint8Array(await readFile(join(pluginsDir, f)));
    const sha = sha256Hex(bytes);
    keep.add(sha);
    let r = await readPrepared(root, sha, pages);
    if (r.ok && r.files.metered) continue;
    const t = performance.now();
    if (!r.ok) {
      if (!r.absent) await removePrepared(root, sha);
      await prepareInProcess(bytes, sha, root);
      r = await readPrepared(root, sha);
      if (!r.ok) throw new Error(`prepared ${f} is unusable: ${r.reason}`);
    }
    const m = meterAll(r.files.modules, DEFAULT_MEMORY_MAX_MIB);
    await writeMetered(r.files.dir, pages, m.modules, m.fuelExport);
    // the writer makes owner-only directories (a cache in a shared tmpdir); these ship with the bundle
    await chmod(r.files.dir, 0o755);
    await chmod(join(r.files.dir, `metered-${pages}`), 0o755);
    log(`prepared ${f.padEnd(20)} ${sha.slice(0, 12)}  (${Math.round(performance.now() - t)} ms)`);
  }
  for (const d of await readdir(root)) if (!keep.has(d)) await rm(join(root, d), { recursive: true, force: true });
}
