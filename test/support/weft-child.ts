/**
 * The spawner the long-running `weft` test processes share (control, node, gateway, waypoint): runs
 * `node dist/weft.mjs <args>`, keeps its stdout/stderr, waits until the banner is on stdout, and
 * stops it with a signal (SIGKILL if it lingers).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** WEFT_DIST names another build directory (build.mjs honours it too). */
export const WEFT_BIN = resolve(process.env.WEFT_DIST ?? 'dist', 'weft.mjs');

export function assertBuilt(): void {
  if (!existsSync(WEFT_BIN)) throw new Error('dist/weft.mjs is missing: run `npm run build` first (npm test does)');
}

export interface WeftChild<T> {
  child: ChildProcess;
  /** What `banner` read from stdout. */
  banner: T;
  stdout: () => string;
  stderr: () => string;
  /** The JSON lines on stdout so far (access-log lines). */
  accessLog: () => Record<string, any>[];
  /** Sends `signal` (SIGKILL after `killAfterMs`) and resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/**
 * Spawns `weft <args>` and resolves once `banner(stdout)` returns a value; rejects if it exits first
 * or `timeoutMs` passes. `what` names it in errors (`weft gateway`).
 */
export async function spawnWeft<T>(args: string[], o: { what: string; banner: (out: string) => T | undefined; timeoutMs: number; killAfterMs?: number }): Promise<WeftChild<T>> {
  assertBuilt();
  const child = spawn(process.execPath, [WEFT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const banner = await new Promise<T>((resolveBanner, reject) => {
    const timer = setTimeout(() => reject(new Error(`${o.what} did not start in ${o.timeoutMs} ms: ${out}${err}`)), o.timeoutMs);
    child.stdout!.on('data', () => {
      const v = o.banner(out);
      if (v !== undefined) {
        clearTimeout(timer);
        resolveBanner(v);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${o.what} exited with ${code}: ${out}${err}`));
    });
  });
  return {
    child,
    banner,
    stdout: () => out,
    stderr: () => err,
    accessLog: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>),
    stop: (signal = 'SIGTERM') =>
      new Promise((done) => {
        if (child.exitCode !== null) return done(child.exitCode);
        const kill = setTimeout(() => child.kill('SIGKILL'), o.killAfterMs ?? 8000);
        child.once('exit', (code) => {
          clearTimeout(kill);
          done(code);
        });
        child.kill(signal);
      }),
  };
}

/** What tests get of a running node, gateway or waypoint. */
export interface WeftServerProcess {
  child: ChildProcess;
  listen: string;
  stdout: () => string;
  stderr: () => string;
  /** A GET to <listen>:port (admin, stats, ready endpoints). */
  get: (port: number, path: string) => Promise<{ status: number; body: string }>;
  waitReady: (timeoutMs?: number) => Promise<void>;
}

/** The `ready  http://…` banner line of node, gateway and waypoint. */
export const readyBanner = (out: string): true | undefined => (/ready\s+http:\/\//.test(out) ? true : undefined);

/** A plain GET to `http://<host>:<port><path>` (admin/ready endpoints), 5 s timeout. */
export function adminGet(host: string): (port: number, path: string) => Promise<{ status: number; body: string }> {
  return async (port, path) => {
    const res = await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  };
}
