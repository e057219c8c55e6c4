/**
 * Prepares a component (prepared-store.ts) in a child process: jco's transpiler is a large Wasm
 * bindgen whose isolate, compiled code and malloc arenas stayed in a proxy's RSS after its worker
 * thread ended (one plugin: 44 -> 211 MB, 167 MB after the worker's exit, measured). In a child
 * all of it leaves with the child. The component goes to a temporary file in the cache, a job line
 * to the child's stdin; the child writes the entry (temporary directory, then rename), or an error
 * file when jco refuses the component, and answers with the job's id. It stays warm for 30 s.
 *
 * When no child can be run (spawn fails, or the child cannot load the transpiler) the caller falls
 * back to this process (`prepareInProcess`); a component jco refuses is an error either way.
 */
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MANIFEST_FILE, TRANSPILE_OPTIONS, WRITER_SOURCE } from './prepared-store.ts';
import { transpileComponent } from './transpile.ts';

const TIMEOUT_MS = 120_000;

export type Spawner = (command: string, args: string[], opts: { env: NodeJS.ProcessEnv }) => ChildProcess;

/** the child could not run (no node, no transpiler, killed): the caller may prepare in-process */
export class ChildUnavailableError extends Error {}

let resolved: { url: string; version: string } | null | undefined;
/** the transpiler's file URL and version, as this module resolves it (the bundle's node_modules) */
export function transpilerModule(): { url: string; version: string } | undefined {
  if (resolved !== undefined) return resolved ?? undefined;
  try {
    const path = createRequire(import.meta.url).resolve('@bytecodealliance/jco-transpile');
    let version = 'unknown';
    try {
      // <pkg>/dist/index.js -> <pkg>/package.json
      version = (JSON.parse(readFileSync(join(dirname(path), '..', 'package.json'), 'utf8')) as { version?: string }).version ?? version;
    } catch {
      // the version is informational only
    }
    resolved = { url: pathToFileURL(path).href, version };
  } catch {
    resolved = null;
  }
  return resolved ?? undefined;
}

const CHILD_MAIN = `
import * as fsp from 'node:fs/promises';
import { createInterface } from 'node:readline';
const { transpiler, jco, options } = JSON.parse(process.env.WEFT_PLUGIN_PREPARE);
let transpileBytes;
try {
  ({ transpileBytes } = await import(transpiler));
} catch (e) {
  process.stderr.write('cannot load the transpiler: ' + (e && e.message ? e.message : String(e)));
  process.exit(2);
}
// one job per line on stdin; one line with its id on stdout when its entry (or error file) is written
for await (const line of createInterface({ input: process.stdin })) {
  const j = JSON.parse(line);
  try {
    await writePrepared((b) => transpileBytes(b, options), jco, await fsp.readFile(j.input), j.root, j.sha256);
  } catch (e) {
    await fsp.writeFile(j.error, e && e.message ? e.message : String(e));
  }
  process.stdout.write(JSON.stringify({ id: j.id }) + '\\n');
}
process.exit(0);
`;

/**
 * The child stays for IDLE_MS after its last job: a fresh jco pays 1-2 s to start (compiling its
 * own Wasm) before its first component, a warm one a few hundred ms per component, and hot reloads
 * come in runs. Idle, it is unref'd (it never keeps a process alive) and then told to end.
 */
const IDLE_MS = 30_000;

interface Pending {
  input: string;
  error: string;
  root: string;
  sha256: string;
  settle: (e?: Error) => void;
}

interface Helper {
  child: ChildProcess;
  pending: Map<number, Pending>;
  idle?: ReturnType<typeof setTimeout>;
  stderr: string;
  /** when the oldest unanswered job was sent (or the last answer came) */
  busySince: number;
}

const helpers = new Map<Spawner, Helper>();
/** the same component asked for again while it is being prepared waits on the first request */
const inFlight = new Map<string, Promise<void>>();
let nextId = 1;

/** writes `<root>/<sha256>/` from a child process; `root` must exist and be writable */
export function prepareInChild(bytes: Uint8Array, sha256: string, root: string, spawn: Spawner = nodeSpawn): Promise<void> {
  const key = `${root}\0${sha256}`;
  let p = inFlight.get(key);
  if (p === undefined) {
    p = runJob(bytes, sha256, root, spawn).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

async function runJob(bytes: Uint8Array, sha256: string, root: string, spawn: Spawner): Promise<void> {
  const t = transpilerModule();
  if (!t) throw new ChildUnavailableError('the transpiler cannot be resolved from this module');
  const input = join(root, `.in-${sha256}-${process.pid}-${randomBytes(4).toString('hex')}.wasm`);
  const error = `${input}.error`;
  try {
    try {
      await writeFile(input, bytes, { mode: 0o600 });
    } catch (e) {
      // the input could not be written: this process may still manage
      throw new ChildUnavailableError((e as Error).message);
    }
    const ended = await new Promise<Error | undefined>((resolve) => {
      const h = helperFor(spawn, t);
      if (h instanceof Error) return resolve(h);
      const id = nextId++;
      if (h.pending.size === 0) h.busySince = Date.now();
      h.pending.set(id, { input, error, root, sha256, settle: resolve });
      if (h.idle) clearTimeout(h.idle);
      h.idle = undefined;
      setRef(h, true);
      h.child.stdin?.write(`${JSON.stringify({ id, input, error, root, sha256 })}\n`);
    });
    const message = await readFile(error, 'utf8').catch(() => undefined);
    if (message !== undefined) throw new Error(message || 'the transpiler failed');
    if (existsSync(join(root, sha256, MANIFEST_FILE))) return;
    throw ended ?? new ChildUnavailableError('the transpiler process wrote no entry');
  } finally {
    await Promise.all([rm(input, { force: true }), rm(error, { force: true })]);
  }
}

function setRef(h: Helper, on: boolean): void {
  const m = on ? 'ref' : 'unref';
  h.child[m]();
  for (const s of [h.child.stdin, h.child.stdout, h.child.stderr] as unknown as ({ ref?: () => void; unref?: () => void } | null)[]) s?.[m]?.();
}

function helperFor(spawn: Spawner, t: { url: string; version: string }): Helper | Error {
  const have = helpers.get(spawn);
  if (have) return have;
  const env = { ...process.env, WEFT_PLUGIN_PREPARE: JSON.stringify({ transpiler: t.url, jco: t.version, options: TRANSPILE_OPTIONS }) };
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['--input-type=module', '-e', WRITER_SOURCE + CHILD_MAIN], { env });
  } catch (e) {
    return new ChildUnavailableError(`cannot start the transpiler process: ${(e as Error).message}`);
  }
  const h: Helper = { child, pending: new Map(), stderr: '', busySince: Date.now() };
  helpers.set(spawn, h);
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    if (h.stderr.length < 4096) h.stderr += d;
  });
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let id: number | undefined;
      try {
        id = (JSON.parse(line) as { id?: number }).id;
      } catch {
        continue;
      }
      const job = id === undefined ? undefined : h.pending.get(id);
      if (!job) continue;
      h.pending.delete(id!);
      h.busySince = Date.now();
      job.settle();
      if (h.pending.size === 0) {
        setRef(h, false);
        h.idle = setTimeout(() => h.child.stdin?.end(), IDLE_MS);
        h.idle.unref();
      }
    }
  });
  // a job that never answers (a hung transpile) ends the child
  const watchdog = setInterval(() => {
    if (h.pending.size > 0 && Date.now() - h.busySince > TIMEOUT_MS) child.kill('SIGKILL');
  }, 5_000);
  watchdog.unref();
  let failed: string | undefined;
  const end = (why: string) => {
    clearInterval(watchdog);
    if (h.idle) clearTimeout(h.idle);
    if (helpers.get(spawn) === h) helpers.delete(spawn);
    for (const job of h.pending.values()) job.settle(new ChildUnavailableError(why));
    h.pending.clear();
  };
  child.on('error', (e) => {
    failed = `cannot start the transpiler process: ${e.message}`;
    end(failed);
  });
  child.on('close', (code, signal) => {
    end(failed ?? `the transpiler process ended with ${signal ?? `code ${code}`}${h.stderr ? `: ${h.stderr.trim().slice(0, 500)}` : ''}`);
  });
  // a write to a child that is gone must not throw out of the proxy
  child.stdin?.on('error', () => {});
  return h;
}

let writer: Promise<{ writePrepared: (t: (b: Uint8Array) => Promise<unknown>, jco: string, bytes: Uint8Array, root: string, sha256: string) => Promise<void> }> | undefined;

/** the same entry, written from this process (jco in transpile.ts's worker, or this thread) */
export async function prepareInProcess(bytes: Uint8Array, sha256: string, root: string): Promise<void> {
  writer ??= import(/* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(WRITER_SOURCE).toString('base64')}`);
  const w = await writer;
  await w.writePrepared(transpileComponent, transpilerModule()?.version ?? 'unknown', bytes, root, sha256);
}
