/**
 * Shared by the HTTP benchmarks: wrk (req/s, p50/p99, counts, errors; optionally inside a network
 * namespace), the CPU time and RSS of processes from /proc, waiting for a port, medians.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';

const TICK_MS = 10; // CLK_TCK 100

export interface WrkResult {
  rps: number;
  p50us: number;
  p99us: number;
  requests: number;
  errors: number;
  non2xx: number;
}

export function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

function micros(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v : m[2] === 'ms' ? v * 1000 : v * 1e6;
}

/**
 * wrk -t1 against `url` with `connections` for `seconds`; inside network namespace `ns` when given;
 * `script` is a Lua file (e.g. a paced run's delay()).
 */
export async function wrk(url: string, connections: number, seconds: number, o: { ns?: string; headers?: string[]; script?: string } = {}): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  for (const h of o.headers ?? []) args.push('-H', h);
  if (o.script) args.push('-s', o.script);
  const [cmd, full] = o.ns ? ['ip', ['netns', 'exec', o.ns, 'wrk', ...args, url]] : ['wrk', [...args, url]];
  const out = await run(cmd, full as string[], (seconds + 30) * 1000);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50us: micros(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
    p99us: micros(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

/** CPU milliseconds (user + system, all threads) used so far by these processes. */
export async function cpuMs(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * TICK_MS;
}

/** Resident set size (VmRSS) of each process, MB. */
export async function rssMbEach(pids: readonly number[]): Promise<number[]> {
  return Promise.all(pids.map(async (pid) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024));
}

/** Resident set size in MB (VmRSS), summed over the processes. */
export async function rssMb(pids: readonly number[]): Promise<number> {
  return (await rssMbEach(pids)).reduce((a, b) => a + b, 0);
}

export function waitPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tryOnce = (): void => {
      const s = connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`${host}:${port} not listening`));
        else setTimeout(tryOnce, 50);
      });
    };
    tryOnce();
  });
}

export const median = (xs: number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
