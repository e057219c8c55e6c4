/**
 * Prepares a component (prepared-store.ts) in a child process: jco's transpiler is a large Wasm
 * bindgen whose isolate, compiled code and malloc arenas stayed in a proxy's RSS after its worker
 * thread ended (one plugin: 44 -> 211 MB, 167 MB after the worker's exit, measured). In a child
 * all of it leaves with the child. They talk through files: the component goes to a temporary file
 * in the cache, the child writes the entry (temporary directory, then rename), or an error file
 * when jco refuses the component, and exits.
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
const { transpiler, jco, options, jobs } = JSON.parse(process.env.WEFT_PLUGIN_PREPARE);
let transpileBytes;
try {
  ({ transpileBytes } = await import(transpiler));
} catch (e) {
  process.stderr.write('cannot load the transpiler: ' + (e && e.message ? e.message : String(e)));
  process.exit(2);
}
for (const j of jobs) {
  try {
    await writePrepared((b) => transpileBytes(b, options), jco, await fsp.readFile(j.input), j.root, j.sha256);
  } catch (e) {
    await fsp.writeFile(j.error, e && e.message ? e.message : String(e));
  }
}
process.exit(0);
`;

interface Job {
  bytes: Uint8Array;
  sha256: string;
  root: string;
  spawn: Spawner;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * Components asked for within BATCH_MS of each other go to one child: a fresh jco pays about 1 s
 * to start (compiling its own Wasm) before its first component, and a proxy's first config may
 * name several plugins at once.
 */
const BATCH_MS = 30;
let queue: Job[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;

/** writes `<root>/<sha256>/` from a child process; `root` must exist and be writable */
export function prepareInChild(bytes: Uint8Array, sha256: string, root: string, spawn: Spawner = nodeSpawn): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    queue.push({ bytes, sha256, root, spawn, resolve, reject });
    timer ??= setTimeout(flush, BATCH_MS);
  });
}

function flush(): void {
  timer = undefined;
  const jobs = queue;
  queue = [];
  // one child per spawner (tests bring their own); a duplicate sha256 waits on the first
  const bySpawner = new Map<Spawner, Job[]>();
  for (const j of jobs) bySpawner.set(j.spawn, [...(bySpawner.get(j.spawn) ?? []), j]);
  for (const [spawn, group] of bySpawner) void runBatch(spawn, group);
}

async function runBatch(spawn: Spawner, all: Job[]): Promise<void> {
  const t = transpilerModule();
  if (!t) {
    for (const j of all) j.reject(new ChildUnavailableError('the transpiler cannot be resolved from this module'));
    return;
  }
  const jobs: (Job & { input: string; error: string; twins: Job[] })[] = [];
  for (const j of all) {
    const first = jobs.find((x) => x.sha256 === j.sha256 && x.root === j.root);
    if (first) {
      first.twins.push(j);
      continue;
    }
    const input = join(j.root, `.in-${j.sha256}-${process.pid}-${randomBytes(4).toString('hex')}.wasm`);
    jobs.push({ ...j, input, error: `${input}.error`, twins: [] });
  }
  const settle = (j: (typeof jobs)[number], e?: Error) => {
    for (const x of [j, ...j.twins]) e ? x.reject(e) : x.resolve();
  };
  try {
    await Promise.all(jobs.map((j) => writeFile(j.input, j.bytes, { mode: 0o600 })));
    const env = {
      ...process.env,
      WEFT_PLUGIN_PREPARE: JSON.stringify({ transpiler: t.url, jco: t.version, options: TRANSPILE_OPTIONS, jobs: jobs.map((j) => ({ input: j.input, error: j.error, root: j.root, sha256: j.sha256 })) }),
    };
    const ended = await new Promise<string | undefined>((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, ['--input-type=module', '-e', WRITER_SOURCE + CHILD_MAIN], { env });
      } catch (e) {
        resolve(`cannot start the transpiler process: ${(e as Error).message}`);
        return;
      }
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => {
        if (stderr.length < 4096) stderr += d;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
      timer.unref();
      let failed: string | undefined;
      child.on('error', (e) => (failed = `cannot start the transpiler process: ${e.message}`));
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (failed !== undefined) resolve(failed);
        else if (code === 0) resolve(undefined);
        else resolve(`the transpiler process ended with ${signal ?? `code ${code}`}${stderr ? `: ${stderr.trim().slice(0, 500)}` : ''}`);
      });
    });
    for (const j of jobs) {
      const message = await readFile(j.error, 'utf8').catch(() => undefined);
      if (message !== undefined) settle(j, new Error(message || 'the transpiler failed'));
      else if (ended === undefined || existsSync(join(j.root, j.sha256, MANIFEST_FILE))) settle(j);
      else settle(j, new ChildUnavailableError(ended));
    }
  } catch (e) {
    // the inputs could not be written: this process may still manage
    for (const j of jobs) settle(j, new ChildUnavailableError((e as Error).message));
  } finally {
    await Promise.all(jobs.flatMap((j) => [rm(j.input, { force: true }), rm(j.error, { force: true })]));
  }
}

let writer: Promise<{ writePrepared: (t: (b: Uint8Array) => Promise<unknown>, jco: string, bytes: Uint8Array, root: string, sha256: string) => Promise<void> }> | undefined;

/** the same entry, written from this process (jco in transpile.ts's worker, or this thread) */
export async function prepareInProcess(bytes: Uint8Array, sha256: string, root: string): Promise<void> {
  writer ??= import(/* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(WRITER_SOURCE).toString('base64')}`);
  const w = await writer;
  await w.writePrepared(transpileComponent, transpilerModule()?.version ?? 'unknown', bytes, root, sha256);
}
