/**
 * Runs `weft waypoint` (the run form: no subcommand) from the built bundle as a child process, waits
 * for its banner, and keeps its output (banner, then JSON access-log lines with `--access-log -`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { WEFT_BIN, assertBuilt, eventually } from './weft-process.ts';

export interface WaypointProcess {
  child: ChildProcess;
  listen: string;
  stdout: () => string;
  stderr: () => string;
  accessLog: () => Record<string, any>[];
  get: (port: number, path: string) => Promise<{ status: number; body: string }>;
  waitReady: (timeoutMs?: number) => Promise<void>;
  stop: () => Promise<void>;
}

export async function startWaypoint(o: { control: string; rootCert: string; token: string; namespace: string; name: string; listen: string; args?: string[] }, timeoutMs = 20_000): Promise<WaypointProcess> {
  assertBuilt();
  const args = ['waypoint', '--control', o.control, '--root-cert', o.rootCert, '--token', o.token, '--namespace', o.namespace, '--name', o.name, '--listen', o.listen, ...(o.args ?? [])];
  const child = spawn(process.execPath, [WEFT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft waypoint did not start in ${timeoutMs} ms: ${out}${err}`)), timeoutMs);
    child.stdout!.on('data', () => {
      if (/ready\s+http:\/\//.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft waypoint exited with ${code}: ${out}${err}`));
    });
  });
  const get = async (port: number, path: string) => {
    const res = await fetch(`http://${o.listen}:${port}${path}`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  };
  return {
    child,
    listen: o.listen,
    stdout: () => out,
    stderr: () => err,
    accessLog: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>),
    get,
    waitReady: async (t = 15_000) => {
      await eventually(async () => (await get(15021, '/healthz/ready').catch(() => ({ status: 0 }))).status === 200, t, 'waypoint ready');
    },
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        const kill = setTimeout(() => child.kill('SIGKILL'), 8000);
        child.once('exit', () => {
          clearTimeout(kill);
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}
