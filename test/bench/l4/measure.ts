/**
 * Measuring one contender: wrk (req/s, p50/p99, request count, socket errors) and curl (bulk
 * download speed over one connection), both run inside a pod's network namespace
 * (`ip netns exec`), CPU time of the proxy processes from /proc/<pid>/stat (utime + stime), RSS
 * from /proc/<pid>/status.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

const TICK_MS = 10; // CLK_TCK 100

export interface WrkResult {
  rps: number;
  p50us: number;
  p99us: number;
  requests: number;
  errors: number;
  non2xx: number;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
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
 * wrk inside network namespace `ns`: one thread, `connections` connections for `seconds`;
 * `close` sends `Connection: close` (a new connection per request); `script` is a Lua file (the
 * paced run's delay()).
 */
export async function wrk(ns: string, url: string, o: { connections: number; seconds: number; close?: boolean; script?: string }): Promise<WrkResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '--timeout', '5s'];
  if (o.close) args.push('-H', 'Connection: close');
  if (o.script) args.push('-s', o.script);
  const out = await run('ip', ['netns', 'exec', ns, 'wrk', ...args, url], (o.seconds + 30) * 1000);
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

/** CPU milliseconds (user + system) used so far by these processes (threads included). */
export async function cpuMs(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * TICK_MS;
}

/** Resident set size of each process, MB. */
export async function rssMb(pids: readonly number[]): Promise<number[]> {
  return Promise.all(
    pids.map(async (pid) => {
      const s = await readFile(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(s)?.[1] ?? NaN) / 1024;
    }),
  );
}

/** Samples the largest per-process RSS while `work` runs. */
export async function peakRss<T>(pids: readonly number[], work: Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      try {
        peak = Math.max(peak, ...(await rssMb(pids)));
      } catch {
        // a process gone mid-sample
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const result = await work;
  done = true;
  await sampler;
  return { result, peakMb: peak };
}

/** A wrk script pacing each connection to one request per `everyMs` (wrk's delay() hook). */
export const paceScript = (everyMs: number): string => `function delay()\n  return ${everyMs}\nend\n`;

/** MB/s of one download over one connection, curl inside network namespace `ns`. */
export async function bulkMbps(ns: string, url: string): Promise<number> {
  const out = await run('ip', ['netns', 'exec', ns, 'curl', '-s', '-o', '/dev/null', '--max-time', '60', '-w', '%{speed_download} %{size_download}', url], 90_000);
  const [speed, size] = out.trim().split(' ').map(Number);
  if (!size) throw new Error(`bulk download from ${url} returned nothing`);
  return speed! / 1e6;
}
