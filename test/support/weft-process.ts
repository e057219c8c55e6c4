/**
 * Runs the built `weft` bundle (dist/weft.mjs) as a child process, as a user or a script would:
 * integration tests exercise the real binary, its flags and its output.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const WEFT_BIN = resolve('dist/weft.mjs');

export function assertBuilt(): void {
  if (!existsSync(WEFT_BIN)) throw new Error('dist/weft.mjs is missing: run `npm run build` first (npm test does)');
}

/** Runs a short command (`weft analyze`, `weft token create`) to completion. */
export function weftSync(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WEFT_BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface ControlProcess {
  child: ChildProcess;
  xds: string;
  secure: string;
  http: string;
  stdout: () => string;
  stderr: () => string;
  stop: () => Promise<void>;
}

/** Starts `weft control` on ephemeral ports and waits for its banner. */
export async function startControl(args: string[], timeoutMs = 20_000): Promise<ControlProcess> {
  assertBuilt();
  const child = spawn(process.execPath, [WEFT_BIN, 'control', '--listen', '127.0.0.1', '--xds-port', '0', '--secure-port', '0', '--http-port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const ports = await new Promise<{ xds: string; secure: string; http: string }>((resolvePorts, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft control did not start in ${timeoutMs} ms: ${out}${err}`)), timeoutMs);
    const check = () => {
      const xds = /xDS \(plaintext\)\s+(\S+)/.exec(out)?.[1];
      const secure = /xDS \+ CA \(TLS\)\s+(\S+)/.exec(out)?.[1];
      const http = /HTTP\s+(http:\/\/[^/\s]+)/.exec(out)?.[1];
      if (xds && secure && http) {
        clearTimeout(timer);
        resolvePorts({ xds, secure, http });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft control exited with ${code}: ${out}${err}`));
    });
  });
  return {
    child,
    ...ports,
    stdout: () => out,
    stderr: () => err,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Polls `fn` until it returns a truthy value or the time is up. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
