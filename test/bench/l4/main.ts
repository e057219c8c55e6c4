/**
 * The L4 benchmark (issue 3, "Figures"; design.md 8: "the L4 bench on the e2e topology, wrk inside
 * a pod namespace"). The real bundle (`weft control` + two `weft node`, iptables capture, pods
 * enrolled with `weft cni add`) against direct, stunnel4 and haproxy (two hops of mutual TLS 1.3
 * each), all in one netns topology (test/e2e/topology.ts; see contenders.ts for the paths). wrk
 * against nginx at 1, 16 and 64 connections, a paced run at ~1,000 req/s first, on the fresh proxies (RSS), new connections per
 * second with `Connection: close` (and its errors), bulk over one connection, CPU per 1,000 requests
 * (both hops) and RSS. Contenders alternate within each repeat (order rotated per repeat), each
 * started fresh for its turn; the table shows medians.
 *
 * Usage (root; `npm run build` first; apt-get install -y stunnel4 haproxy nginx wrk curl iptables):
 *   node test/bench/run.mjs l4 [--repeats 3] [--seconds 5] [--conns 1,16,64] [--only weft,haproxy]
 *                              [--node-flags '--max-semi-space-size=2']   (V8 flags for the weft node processes;
 *                              default: the `weft` launcher's, `--max-semi-space-size=1 --v8-pool-size=1`)
 *                              [--skip rest]   (only the wrk runs at --conns: for profiling one phase)
 *                              [--skip wrk,paced,churn,bulk]   (leave out those phases, e.g. all but bulk)
 *                              [--bulk-runs 3]   (256 MB downloads in the bulk phase; more to profile it)
 *                              [--settle-s 4]   (wait after each contender starts before idle RSS and the paced run)
 *                              [--private-node]  (each weft node on its own copy of the node executable, as on a
 *                                                 real node: its page-out then reaches every page; contenders.ts)
 * Namespaces, their iptables rules and every process are removed at the end, on an error and on
 * SIGINT/SIGTERM/SIGHUP; namespaces left by a run that was killed outright go at the next start.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEFT_BIN } from '../../support/weft-process.ts';
import { cleanupStale, createTopology, e2eUnsupportedReason, type Topology } from '../../e2e/topology.ts';
import { direct, startHaproxy, startNginx, startStunnel, startWeft, type Running } from './contenders.ts';
import { bulkMbps, cpuMs, paceScript, peakRss, rssMb, wrk } from './measure.ts';
import { writePki } from './pki.ts';
import { goals, noise, table, type Sample } from './report.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};

/** The paced run: 10 connections, each waiting 10 ms after every answer: a little under 1,000 req/s. */
const PACED_CONNECTIONS = 10;
const PACE_MS = 10;

/** `--bulk-runs N`: 256 MB downloads in the bulk phase (default 3; more to profile it with perf). */
const bulkRuns = Number(opt('bulk-runs', '3'));
/** `--settle-s S`: wait after each contender starts, before its idle RSS and the paced run (default 4) */
const settleMs = Number(opt('settle-s', '4')) * 1000;

async function measure(r: Running, seconds: number, conns: number[], pace: string, skip: readonly string[]): Promise<Sample> {
  const ns = r.client.ns;
  // settle after start: `weft node` trims malloc and pages out start-up's code 3 s after it starts
  // (memory-release.ts); idle and ~1k req/s RSS are read on a settled process, for every contender
  await new Promise((res) => setTimeout(res, settleMs));
  const rssIdle = r.pids.length ? Math.max(...(await rssMb(r.pids))) : NaN;
  const s: Sample = { rps: {}, p50: {}, p99: {}, cpuPer1k: {}, bulk: NaN, bulkCpuPerGb: [], connsPerSec: NaN, churnErrors: NaN, rssIdle, rssLoad: NaN, rssPaced: NaN, pacedRps: NaN };
  // The paced run first, on the freshly started proxies: RSS at a steady ~1,000 req/s. After the
  // 64-connection runs it would read the high-water mark they leave, which has its own row.
  if (!skip.includes('rest') && !skip.includes('paced')) {
    const paced = await peakRss(r.pids, wrk(ns, r.url, { connections: PACED_CONNECTIONS, seconds, script: pace }));
    s.rssPaced = paced.peakMb;
    s.pacedRps = paced.result.rps;
  }
  await wrk(ns, r.url, { connections: 16, seconds: 1 });
  for (const c of skip.includes('wrk') ? [] : conns) {
    const before = r.pids.length ? await cpuMs(r.pids) : 0;
    const { result, peakMb } = await peakRss(r.pids, wrk(ns, r.url, { connections: c, seconds }));
    const used = r.pids.length ? (await cpuMs(r.pids)) - before : NaN;
    s.rps[c] = result.rps;
    s.p50[c] = result.p50us;
    s.p99[c] = result.p99us;
    s.cpuPer1k[c] = used / (result.requests / 1000);
    if (result.errors || result.non2xx) process.stderr.write(`  ${r.name} c=${c}: ${result.errors} socket errors, ${result.non2xx} non-2xx\n`);
    if (c === conns[conns.length - 1]) s.rssLoad = peakMb;
  }
  if (skip.includes('rest')) return s;
  if (!skip.includes('churn')) {
    const churn = await wrk(ns, r.url, { connections: 16, seconds, close: true });
    s.connsPerSec = churn.rps;
    s.churnErrors = churn.errors + churn.non2xx;
    if (s.churnErrors) process.stderr.write(`  ${r.name} churn: ${churn.errors} socket errors, ${churn.non2xx} non-2xx\n`);
  }
  if (skip.includes('bulk')) return s;
  // best of three 256 MB downloads: one transfer lasts 1-3 s here, and a neighbour's burst or a
  // GC pause in that window moves a single sample by 2x
  const bulk: number[] = [];
  const cpuBefore = await Promise.all(r.pids.map((p) => cpuMs([p])));
  for (let i = 0; i < bulkRuns; i++) bulk.push(await bulkMbps(ns, `${r.url}big`));
  const cpuAfter = await Promise.all(r.pids.map((p) => cpuMs([p])));
  s.bulk = Math.max(...bulk);
  // bulkRuns x 256 MiB (3: 0.805 GB)
  s.bulkCpuPerGb = cpuAfter.map((c, i) => (c - cpuBefore[i]!) / ((bulkRuns * 256 * 1024 * 1024) / 1e9));
  // each sample, per hop (client-side hop first): medians hide which hop moved
  process.stderr.write(`  ${r.name} bulk MB/s ${bulk.map((b) => b.toFixed(0)).join(' ')}; CPU ms/GB per hop ${s.bulkCpuPerGb.map((c) => c.toFixed(0)).join(' ')}\n`);
  return s;
}

function missingTools(): string[] {
  return ['wrk', 'curl', 'nginx', 'stunnel4', 'haproxy'].filter((cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0);
}

async function main(): Promise<void> {
  const repeats = Number(opt('repeats', '3'));
  const seconds = Number(opt('seconds', '5'));
  const conns = opt('conns', '1,16,64').split(',').map(Number);
  const only = opt('only', 'direct,weft,stunnel,haproxy').split(',');
  // what dist/weft (the launcher users run) gives `weft node`; the bench starts dist/weft.mjs directly
  const nodeFlags = opt('node-flags', '--max-semi-space-size=1 --v8-pool-size=1').split(' ').filter(Boolean);
  // `--skip rest`: only the wrk runs at --conns (profiling one phase with --node-flags --cpu-prof)
  const skip = opt('skip', '').split(',');
  const unsupported = e2eUnsupportedReason();
  if (unsupported) throw new Error(`the L4 bench runs in the e2e topology: ${unsupported}`);
  const missing = missingTools();
  if (missing.length) throw new Error(`missing: ${missing.join(', ')} (apt-get install -y stunnel4 haproxy nginx wrk curl)`);
  if (!existsSync(WEFT_BIN)) throw new Error(`${WEFT_BIN} is missing: npm run build`);

  const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const loadBefore = load();
  await cleanupStale();
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-l4-'));
  let topo: Topology | undefined;
  let current: Running | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await current?.stop().catch(() => {});
      await topo?.destroy(); // every process spawned in the topology, then the namespaces (their iptables rules with them)
      rmSync(dir, { recursive: true, force: true });
    })());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up (namespaces, iptables, processes)\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const started = Date.now();
  const results = new Map<string, Sample[]>();
  try {
    topo = await createTopology();
    const t = topo;
    const pki = writePki(dir);
    const pace = join(dir, 'pace.lua');
    writeFileSync(pace, paceScript(PACE_MS));
    await startNginx(t, t.pods.c, join(dir, 'nginx-c'));
    await startNginx(t, t.pods.d, join(dir, 'nginx-d'));
    let weftRuns = 0;
    const starters: Record<string, () => Promise<Running>> = {
      direct: async () => direct(t),
      weft: () => startWeft(t, join(dir, `weft-${weftRuns++}`), nodeFlags, argv.includes('--private-node')),
      stunnel: () => startStunnel(t, dir, pki),
      haproxy: () => startHaproxy(t, dir, pki),
    };
    const names = Object.keys(starters).filter((n) => only.includes(n));
    for (const n of names) results.set(n, []);
    for (let rep = 0; rep < repeats; rep++) {
      const order = names.map((_, i) => names[(i + rep) % names.length]!);
      for (const name of order) {
        process.stderr.write(`repeat ${rep + 1}/${repeats}: ${name}\n`);
        current = await starters[name]!();
        try {
          results.get(name)!.push(await measure(current, seconds, conns, pace, skip));
        } finally {
          await current.stop();
          current = undefined;
        }
      }
    }
  } finally {
    await cleanup();
  }
  const names = [...results.keys()];
  console.log(`\n## L4 bench: ${repeats} repeats x ${seconds} s per run, medians (${((Date.now() - started) / 1000).toFixed(0)} s, node ${process.version}${nodeFlags.length ? `, weft node flags ${nodeFlags.join(' ')}` : ''}${argv.includes('--private-node') ? ', each weft node on a private copy of node' : ''}, ${names.join(', ')})\n`);
  console.log(table(results, conns));
  console.log(`\nNoise: req/s spread (max-min)/median at ${conns[conns.length - 1]} conn across repeats: ${noise(results, conns[conns.length - 1]!)}; load average before ${loadBefore}, after ${load()}.`);
  const g = goals(results, conns);
  if (g.length) console.log(`\nGoals (issue 3):\n${g.map((l) => `- ${l}`).join('\n')}`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
