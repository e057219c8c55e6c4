/**
 * Measuring one contender: wrk (req/s, p50/p99, request count, socket errors) and curl (bulk
 * download speed over one connection), both run inside a pod's network namespace
 * (`ip netns exec`), CPU time of the proxy processes from /proc/<pid>/stat (utime + stime), RSS
 * from /proc/<pid>/status.
 */
import { rssMbEach, run, wrk as wrkIn, type WrkResult } from '../lib/load.ts';

export { cpuMs, rssMbEach as rssMb, type WrkResult } from '../lib/load.ts';

/**
 * wrk inside network namespace `ns`: one thread, `connections` connections for `seconds`;
 * `close` sends `Connection: close` (a new connection per request); `script` is a Lua file (the
 * paced run's delay()).
 */
export function wrk(ns: string, url: string, o: { connections: number; seconds: number; close?: boolean; script?: string }): Promise<WrkResult> {
  return wrkIn(url, o.connections, o.seconds, { ns, headers: o.close ? ['Connection: close'] : [], script: o.script });
}

/** Samples the largest per-process RSS while `work` runs. */
export async function peakRss<T>(pids: readonly number[], work: Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      try {
        peak = Math.max(peak, ...(await rssMbEach(pids)));
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
