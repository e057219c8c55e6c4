/**
 * Runs the core scenario in real Deno and real workerd as child processes and returns what each
 * printed or served (design.md 8, issue 2). Every child is bounded in time and tracked so the test
 * can kill leftovers in afterAll; temp directories are removed; failures carry the child's stderr.
 *
 * Deno runs the TypeScript sources as they are (no bundling), resolving bare imports from
 * node_modules (deno.json: nodeModulesDir manual), with no permission but the two environment
 * variables the yaml package's Node build reads. workerd serves an esbuild bundle (browser
 * platform, ESM) without nodejs_compat on a free loopback port; the harness fetches `/`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { ScenarioResult } from './scenario.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = join(ROOT, 'test/runtime');
const BIN = join(ROOT, 'node_modules/.bin');
/** Fixed, so behaviour does not drift with the installed workerd (which supports dates up to its own). */
export const WORKERD_COMPAT_DATE = '2025-09-01';

export interface RuntimeRun {
  runtime: string;
  version: string;
  env?: { process: string; Buffer: string };
  result: ScenarioResult;
}

const live = new Set<ChildProcess>();

/** Kills every child still running (afterAll). */
export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

interface Spawned {
  child: ChildProcess;
  stderr: () => string;
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
}

export function start(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs: number }): Spawned {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, NO_COLOR: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const timer = setTimeout(() => {
    stderr += `\n[harness] killed after ${opts.timeoutMs} ms`;
    child.kill('SIGKILL');
  }, opts.timeoutMs);
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
    child.on('error', (err) => {
      stderr += `\n[harness] ${err.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, stderr: () => stderr, done };
}

function parseLastLine(stdout: string, what: string): RuntimeRun {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as RuntimeRun;
  } catch {
    throw new Error(`${what} printed no JSON result; stdout:\n${stdout}`);
  }
}

export async function runInDeno(timeoutMs = 20_000): Promise<RuntimeRun> {
  const denoDir = await mkdtemp(join(tmpdir(), 'weft-deno-'));
  try {
    const args = ['run', '--no-prompt', '--no-remote', '--cached-only', '--config', join(HERE, 'deno/deno.json'), '--allow-env=LOG_TOKENS,LOG_STREAM', join(HERE, 'deno/run-scenario.ts')];
    const { code, signal, stdout, stderr } = await start(join(BIN, 'deno'), args, { cwd: ROOT, env: { DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1' }, timeoutMs }).done;
    if (code !== 0) throw new Error(`deno exited with ${code ?? signal}; stderr:\n${stderr}\nstdout:\n${stdout}`);
    return parseLastLine(stdout, 'deno');
  } finally {
    await rm(denoDir, { recursive: true, force: true });
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Bundles the worker into `dir` and writes its capnp config for `address`. */
async function prepareWorker(dir: string): Promise<(address: string) => Promise<string>> {
  await build({
    entryPoints: [join(HERE, 'workerd/worker.ts')],
    outfile: join(dir, 'worker.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    logLevel: 'silent',
  });
  const template = await readFile(join(HERE, 'workerd/config.capnp'), 'utf8');
  return async (address) => {
    const file = join(dir, 'config.capnp');
    await writeFile(file, template.replace('@ADDRESS@', address).replace('@COMPAT_DATE@', WORKERD_COMPAT_DATE));
    return file;
  };
}

export async function runInWorkerd(timeoutMs = 20_000): Promise<RuntimeRun> {
  const deadline = Date.now() + timeoutMs;
  const dir = await mkdtemp(join(tmpdir(), 'weft-workerd-'));
  try {
    const configFor = await prepareWorker(dir);
    return await fetchFromWorkerd<RuntimeRun>(dir, configFor, deadline, 'the scenario');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs workerd with the config `configFor(address)` makes for a free port, fetches `/` once and
 * returns its JSON; tries again (up to 3 times) when another process took the port first.
 */
export async function fetchFromWorkerd<T>(dir: string, configFor: (address: string) => Promise<string>, deadline: number, what: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const address = `127.0.0.1:${await freePort()}`;
    const config = await configFor(address);
    const proc = start(join(BIN, 'workerd'), ['serve', config], { cwd: dir, timeoutMs: Math.max(1, deadline - Date.now()) });
    let exited: { code: number | null; signal: string | null; stderr: string } | undefined;
    void proc.done.then((r) => (exited = r));
    try {
      while (Date.now() < deadline && !exited) {
        const res = await fetch(`http://${address}/`, { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) }).catch(() => undefined);
        if (res) {
          const body = await res.text();
          if (!res.ok) throw new Error(`workerd answered ${res.status}:\n${body}\nworkerd stderr:\n${proc.stderr()}`);
          return JSON.parse(body) as T;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      proc.child.kill('SIGKILL');
      await proc.done;
    }
    if (exited && /address already in use/i.test(exited.stderr) && attempt < 3 && Date.now() < deadline) continue;
    throw new Error(`workerd did not serve ${what} (${exited ? `exited with ${exited.code ?? exited.signal}` : 'timed out'}); stderr:\n${proc.stderr()}`);
  }
}
