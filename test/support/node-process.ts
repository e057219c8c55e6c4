/**
 * Runs `weft node` from the built bundle as a child process (as test/support/weft-process.ts runs
 * `weft control`), waits for its banner, and keeps its stdout (banner, then one JSON access-log line
 * per connection) and stderr for assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { WEFT_BIN, assertBuilt, eventually } from './weft-process.ts';

export interface NodeProcess {
  child: ChildProcess;
  listen: string;
  stdout: () => string;
  stderr: () => string;
  /** Parsed access-log lines so far. */
  accessLog: () => Record<string, any>[];
  get: (port: number, path: string) => Promise<{ status: number; body: string }>;
  waitReady: (timeoutMs?: number) => Promise<void>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export async function startNode(o: { control: string; rootCert: string; token: string; nodeName: string; listen: string; args?: string[] }, timeoutMs = 20_000): Promise<NodeProcess> {
  assertBuilt();
  const args = ['node', '--control', o.control, '--root-cert', o.rootCert, '--token', o.token, '--node-name', o.nodeName, '--listen', o.listen, '--capture', 'none', ...(o.args ?? [])];
  const child = spawn(process.execPath, [WEFT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft node did not start in ${timeoutMs} ms: ${out}${err}`)), timeoutMs);
    const check = () => {
      if (/ready\s+http:\/\//.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft node exited with ${code}: ${out}${err}`));
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
      await eventually(async () => (await get(15021, '/healthz/ready')).status === 200, t, `${o.nodeName} ready`);
    },
    stop: (signal = 'SIGTERM') =>
      new Promise((done) => {
        if (child.exitCode !== null) return done(child.exitCode);
        const kill = setTimeout(() => child.kill('SIGKILL'), 8000);
        child.once('exit', (code) => {
          clearTimeout(kill);
          done(code);
        });
        child.kill(signal);
      }),
  };
}
