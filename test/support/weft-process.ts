/**
 * Runs the built `weft` bundle (dist/weft.mjs) as a child process, as a user or a script would:
 * integration tests exercise the real binary, its flags and its output.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { WEFT_BIN, spawnWeft } from './weft-child.ts';

export { WEFT_BIN, assertBuilt } from './weft-child.ts';

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
  const w = await spawnWeft(['control', '--listen', '127.0.0.1', '--xds-port', '0', '--secure-port', '0', '--http-port', '0', ...args], {
    what: 'weft control',
    timeoutMs,
    killAfterMs: 5000,
    banner: (out) => {
      const xds = /xDS \(plaintext\)\s+(\S+)/.exec(out)?.[1];
      const secure = /xDS \+ CA \(TLS\)\s+(\S+)/.exec(out)?.[1];
      const http = /HTTP\s+(http:\/\/[^/\s]+)/.exec(out)?.[1];
      return xds && secure && http ? { xds, secure, http } : undefined;
    },
  });
  return {
    child: w.child,
    ...w.banner,
    stdout: w.stdout,
    stderr: w.stderr,
    stop: async () => {
      await w.stop();
    },
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
