/**
 * Runs `weft gateway` from the built bundle as a child process, waits for its banner, and gives
 * tests its admin/ready endpoints and output (banner, then JSON access-log lines with
 * `--access-log -`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { WEFT_BIN, assertBuilt, eventually } from './weft-process.ts';

export interface GatewayProcess {
  child: ChildProcess;
  listen: string;
  ports: { admin: number; stats: number; ready: number };
  stdout: () => string;
  stderr: () => string;
  get: (port: number, path: string) => Promise<{ status: number; body: string }>;
  waitReady: (timeoutMs?: number) => Promise<void>;
  stop: () => Promise<void>;
}

export async function startGateway(o: { control: string; rootCert: string; token: string; listen: string; ports: { admin: number; stats: number; ready: number }; args?: string[] }, timeoutMs = 20_000): Promise<GatewayProcess> {
  assertBuilt();
  const args = ['gateway', '--control', o.control, '--root-cert', o.rootCert, '--token', o.token, '--listen', o.listen, '--admin-port', String(o.ports.admin), '--stats-port', String(o.ports.stats), '--ready-port', String(o.ports.ready), ...(o.args ?? [])];
  const child = spawn(process.execPath, [WEFT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft gateway did not start in ${timeoutMs} ms: ${out}${err}`)), timeoutMs);
    child.stdout!.on('data', () => {
      if (/ready\s+http:\/\//.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft gateway exited with ${code}: ${out}${err}`));
    });
  });
  const get = async (port: number, path: string) => {
    const res = await fetch(`http://${o.listen}:${port}${path}`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  };
  return {
    child,
    listen: o.listen,
    ports: o.ports,
    stdout: () => out,
    stderr: () => err,
    get,
    waitReady: async (t = 15_000) => {
      await eventually(async () => (await get(o.ports.ready, '/healthz/ready').catch(() => ({ status: 0 }))).status === 200, t, 'gateway ready');
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
