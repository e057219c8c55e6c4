/**
 * Small http-filter components built from inline TypeScript/JS with componentize-qjs (what `weft plugin
 * build` does with its default backend), for tests and benches that need a real component a user
 * could have rebuilt. Cached under `.tmp/plugin-fixtures` by a hash of the world, the source and the
 * WIT (~1.5 s per build, once). The build runs in a child process so that componentize-qjs's memory
 * and compiled code never stay in the process that uses the component (a bench times that process).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `wit`: the WIT directory (default plugins/wit, the current weft:plugin version; plugins/wit-0.1.0 for the old one) */
export async function cachedHttpFilter(repo: string, prefix: string, jsSource: string, wit = join(repo, 'plugins', 'wit')): Promise<Uint8Array> {
  const key = createHash('sha256').update('http-filter').update(jsSource).update(readFileSync(join(wit, 'weft-plugin.wit'))).digest('hex').slice(0, 32);
  const out = join(repo, '.tmp', 'plugin-fixtures', `${prefix}-${key}.wasm`);
  if (existsSync(out)) return new Uint8Array(readFileSync(out));
  mkdirSync(join(repo, '.tmp', 'plugin-fixtures'), { recursive: true });
  const script = `import { componentize } from 'componentize-qjs'; import { writeFileSync, renameSync } from 'node:fs';
const r = await componentize({ witPath: process.env.WIT, jsSource: process.env.JS, world: 'http-filter', stubWasi: true, sync: true });
writeFileSync(process.env.OUT + '.' + process.pid, r.component); renameSync(process.env.OUT + '.' + process.pid, process.env.OUT);`;
  await new Promise<void>((resolve, reject) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repo, env: { ...process.env, WIT: wit, JS: jsSource, OUT: out }, stdio: ['ignore', 'ignore', 'inherit'] });
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`componentize-qjs for ${prefix} exited with ${code}`))));
  });
  return new Uint8Array(readFileSync(out));
}
