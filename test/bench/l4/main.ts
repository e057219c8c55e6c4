/**
 * The L4 benchmark (issue 3, "Figures"): direct, Weft (two node processes, HBONE over mTLS),
 * stunnel4 and haproxy (two hops of mutual TLS 1.3 each) side by side on loopback, wrk against
 * nginx at 1, 16 and 64 connections, bulk over one connection, new connections per second, CPU per
 * 1,000 requests and RSS. Contenders alternate within each repeat (order rotated per repeat) and
 * the table shows medians.
 *
 * Usage: node test/bench/run.mjs l4 [--repeats 3] [--seconds 5] [--conns 1,16,64] [--only weft,haproxy] [--node-flags '--max-semi-space-size=2']
 * (needs stunnel4, haproxy, nginx, wrk and curl: apt-get install -y stunnel4 haproxy nginx wrk curl)
 * The same bundle runs the Weft hops: `--role weft-in|weft-out`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHaproxy, startNginx, startStunnel, startWeft, type Running } from './contenders.ts';
import { bulkMbps, cpuMs, peakRss, rssMb, wrk } from './measure.ts';
import { writePki } from './pki.ts';
import { goals, noise, table, type Sample } from './report.ts';
import { runWeftRole } from './weft-role.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};

async function measure(r: Running, seconds: number, conns: number[]): Promise<Sample> {
  const url = `http://127.0.0.1:${r.port}/`;
  await new Promise((res) => setTimeout(res, 300));
  const rssIdle = r.pids.length ? Math.max(...(await rssMb(r.pids))) : NaN;
  await wrk(url, { connections: 16, seconds: 1 });
  const s: Sample = { rps: {}, p50: {}, p99: {}, cpuPer1k: {}, bulk: NaN, connsPerSec: NaN, churnErrors: NaN, rssIdle, rssLoad: NaN, rssLow: NaN };
  for (const c of conns) {
    const before = r.pids.length ? await cpuMs(r.pids) : 0;
    const { result, peakMb } = await peakRss(r.pids, wrk(url, { connections: c, seconds }));
    const used = r.pids.length ? (await cpuMs(r.pids)) - before : NaN;
    s.rps[c] = result.rps;
    s.p50[c] = result.p50us;
    s.p99[c] = result.p99us;
    s.cpuPer1k[c] = used / (result.requests / 1000);
    if (result.errors || result.non2xx) process.stderr.write(`  ${r.name} c=${c}: ${result.errors} socket errors, ${result.non2xx} non-2xx\n`);
    if (c === conns[conns.length - 1]) s.rssLoad = peakMb;
    if (c === conns[0]) s.rssLow = peakMb;
  }
  const churn = await wrk(url, { connections: 16, seconds, close: true });
  s.connsPerSec = churn.rps;
  s.churnErrors = churn.errors + churn.non2xx;
  // best of three 256 MB downloads: one transfer lasts 1-3 s here, and a neighbour's burst or a
  // GC pause in that window moves a single sample by 2x
  const bulk: number[] = [];
  for (let i = 0; i < 3; i++) bulk.push(await bulkMbps(`http://127.0.0.1:${r.port}/big`));
  s.bulk = Math.max(...bulk);
  return s;
}

async function main(): Promise<void> {
  const repeats = Number(opt('repeats', '3'));
  const seconds = Number(opt('seconds', '5'));
  const conns = opt('conns', '1,16,64').split(',').map(Number);
  const only = opt('only', 'direct,weft,stunnel,haproxy').split(',');
  // V8 flags for the Weft processes, e.g. --node-flags=--max-semi-space-size=2 (space-separated)
  const nodeFlags = opt('node-flags', '').split(' ').filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-l4-'));
  const bundle = process.argv[1]!;
  const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const loadBefore = load();
  const pki = writePki(dir);
  const nginx = await startNginx(dir);
  const starters: Record<string, () => Promise<Running>> = {
    direct: async () => ({ name: 'direct', port: nginx.port, pids: [], stop: async () => {} }),
    weft: () => startWeft(bundle, pki, nginx.port, nodeFlags),
    stunnel: () => startStunnel(dir, pki, nginx.port),
    haproxy: () => startHaproxy(dir, pki, nginx.port),
  };
  const names = Object.keys(starters).filter((n) => only.includes(n));
  const results = new Map<string, Sample[]>(names.map((n) => [n, []]));
  const started = Date.now();
  try {
    for (let rep = 0; rep < repeats; rep++) {
      const order = names.map((_, i) => names[(i + rep) % names.length]!);
      for (const name of order) {
        process.stderr.write(`repeat ${rep + 1}/${repeats}: ${name}\n`);
        const r = await starters[name]!();
        try {
          results.get(name)!.push(await measure(r, seconds, conns));
        } finally {
          await r.stop();
        }
      }
    }
  } finally {
    await nginx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const nodeVersion = process.version;
  console.log(`\n## L4 bench: ${repeats} repeats x ${seconds} s per run, medians (${((Date.now() - started) / 1000).toFixed(0)} s, node ${nodeVersion}, ${names.join(', ')})\n`);
  console.log(table(results, conns));
  console.log(`\nNoise: req/s spread (max-min)/median at ${conns[conns.length - 1]} conn across repeats: ${noise(results, conns[conns.length - 1]!)}; load average before ${loadBefore}, after ${load()}.`);
  const g = goals(results, conns);
  if (g.length) console.log(`\nGoals (issue 3):\n${g.map((l) => `- ${l}`).join('\n')}`);
}

const role = argv.includes('--role') ? opt('role', '') : '';
if (role) {
  runWeftRole(role).catch((err) => {
    process.stderr.write(`${role}: ${(err as Error).stack}\n`);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
}
