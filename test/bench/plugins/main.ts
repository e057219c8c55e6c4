/**
 * The plugins benchmark (design.md 6; the plugins issue's cost goals). Four parts:
 *
 * 1. Through a real `weft gateway` (WEFT_DIST) to the L7 bench's nginx origin (a 20-byte body), wrk
 *    at 1 and 64 connections. Each of `--repeats` generations starts every contender's gateway at
 *    once (fresh processes) and alternates `--rounds` short wrk runs between them (order rotated);
 *    figures are medians over all runs of a contender: `none` (no plugin), `one` (the built-in header-rewrite: a request header from a
 *    template, a constant response header asked for in the request phase, one call a request),
 *    `one2` (the same with a response rule that reads the response: both header phases),
 *    `chain3` (rate-limit that never denies + header-rewrite + ab-router), `native` (header-rewrite
 *    built with backend 'native': the same TypeScript as a plain module in the gateway, no sandbox;
 *    its gateway alone runs with WEFT_PLUGINS_TRUSTED_NATIVE=1). req/s, p50/p99, the latency added
 *    over `none` at 1 connection, the gateway's CPU ms per 1,000 requests (/proc), RSS after the run.
 * 2. In process on Node, each in a fresh child process: per-call and per-request cost through the
 *    runtime's handle (createNodePluginRuntime, a RecordedExchange) for each built-in as a component
 *    and as a native build; memory per instance; cold load of the first plugin; warm swap times.
 *
 * 3. Through the edge host (hosts/edge) on Node, Deno and workerd (edge.ts): `edge-<runtime>-none`,
 *    `-one`, `-chain3`, the same origin and WasmPlugins, wrk at 1 and 64 connections, the figures of
 *    part 1 per runtime and what the plugins add over `none` on the same runtime, against Node.
 * 4. In process on Node, Deno and workerd through the edge host's plugin runtime (edge-micro.ts):
 *    per-call cost, memory per instance, compile and cold load times.
 *
 * Usage: WEFT_DIST=DIR node test/bench/run.mjs plugins [--repeats 3] [--rounds 3] [--seconds 5] [--calls 100000]
 *          [--only none,one,one2,chain3,native] [--skip gateway,micro,edge,edge-wrk,edge-micro]
 *          [--runtimes node,deno,workerd] [--batch 5000]
 * `--skip edge` skips parts 3 and 4 (the Node-only bench as it was); `--runtimes` picks the edge
 * runtimes of parts 3 and 4 (node there is the edge host on Node, the reference of the ratios).
 * Needs nginx and wrk (apt-get install -y nginx wrk), and a build (the built-ins in DIR/plugins);
 * deno and workerd from node_modules/.bin.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildPlugin } from '../../../hosts/node/plugins/build/build-plugin.ts';
import { median } from '../lib/load.ts';
import { WEFT_BIN } from '../../support/weft-child.ts';
import { CONTENDERS, endOfGateway, sampleGateway, startGateway, startOrigin, warmGateway, type Contender, type GatewayEnd, type Running, type WrkSample } from './gateway.ts';
import { BUILTINS, childRole, runColdRole, runMicroRole, runSwapRole, type Builtin, type MicroResult } from './micro.ts';
import { EDGE_RUNTIMES, type EdgeRuntime } from './edge.ts';
import { edgeMicroPart, edgeWrkPart } from './edge-report.ts';
import { runEdgeMicroNodeRole } from './edge-runtimes.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const BUILTIN_DIR = join(dirname(WEFT_BIN), 'plugins');
// run.mjs runs from the repository's root
const builtinSource = (name: string) => join(process.cwd(), 'plugins', 'builtin', name);

const f0 = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '-');
const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-');
const k = (v: number) => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)}k` : '-');
const goal = (ok: boolean) => (ok ? 'met' : 'NOT met');

async function gatewayPart(dir: string, o: { repeats: number; rounds: number; seconds: number; only: Contender[]; native: { url: string; sha256: string } }): Promise<string> {
  const conns = [1, 64] as const;
  const stopOrigin = await startOrigin(join(dir, 'origin'));
  // per contender: every wrk sample at 1 and 64 connections, and each generation's end state
  const samples = new Map<Contender, Record<(typeof conns)[number], WrkSample[]>>(o.only.map((c) => [c, { 1: [], 64: [] }]));
  const ends = new Map<Contender, GatewayEnd[]>(o.only.map((c) => [c, []]));
  let running: Running[] = [];
  const stopAll = async () => {
    const r = running;
    running = [];
    await Promise.all(r.map((x) => x.stop()));
  };
  const onSignal = () => {
    void stopAll().then(stopOrigin).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // A generation: every contender's gateway at once (fresh processes: code layout differs from one
    // process to the next), then short wrk runs alternating between them, so that the machine's
    // slow minutes fall on every contender alike. Idle gateways beside the measured one take no CPU.
    for (let gen = 0; gen < o.repeats; gen++) {
      for (let i = 0; i < o.only.length; i++) {
        const c = o.only[i]!;
        process.stderr.write(`generation ${gen + 1}/${o.repeats}: starting gateway ${c}\n`);
        running.push(await startGateway(mkdtempSync(join(dir, `gw-${c}-`)), c, o.native, i));
      }
      for (const r of running) await warmGateway(r);
      for (let round = 0; round < o.rounds; round++) {
        const shift = (gen * o.rounds + round) % running.length;
        const order = running.slice(shift).concat(running.slice(0, shift));
        process.stderr.write(`generation ${gen + 1}/${o.repeats}, round ${round + 1}/${o.rounds}: ${order.map((r) => r.name).join(', ')}\n`);
        for (const n of conns) for (const r of order) samples.get(r.name)![n].push(await sampleGateway(r, n, o.seconds));
      }
      for (const r of running) ends.get(r.name)!.push(await endOfGateway(r));
      await stopAll();
    }
  } finally {
    await stopAll();
    await stopOrigin();
  }
  const at = (c: Contender, n: (typeof conns)[number]) => samples.get(c)?.[n] ?? [];
  const medOf = (c: Contender, n: (typeof conns)[number], get: (s: WrkSample) => number) => median(at(c, n).map(get));
  const names = [...samples.keys()];
  const none50 = medOf('none', 1, (s) => s.p50);
  const none99 = medOf('none', 1, (s) => s.p99);
  const failed = (c: Contender) => [...at(c, 1), ...at(c, 64)].reduce((a, s) => a + s.failed, 0);
  const rows: [string, (c: Contender) => string][] = [
    ['req/s, 1 conn', (c) => k(medOf(c, 1, (s) => s.rps))],
    ['req/s, 64 conn', (c) => k(medOf(c, 64, (s) => s.rps))],
    ['req/s, 64 conn, vs none', (c) => f2(medOf(c, 64, (s) => s.rps) / medOf('none', 64, (s) => s.rps)) + 'x'],
    ['p50 us, 1 conn', (c) => f0(medOf(c, 1, (s) => s.p50))],
    ['p99 us, 1 conn', (c) => f0(medOf(c, 1, (s) => s.p99))],
    ['p50 added over none, 1 conn (us)', (c) => (c === 'none' ? '' : f0(medOf(c, 1, (s) => s.p50) - none50))],
    ['p99 added over none, 1 conn (us)', (c) => (c === 'none' ? '' : f0(medOf(c, 1, (s) => s.p99) - none99))],
    ['CPU ms / 1k req, 1 conn', (c) => f1(medOf(c, 1, (s) => s.cpuPer1k))],
    ['CPU ms / 1k req, 64 conn', (c) => f1(medOf(c, 64, (s) => s.cpuPer1k))],
    ['gateway RSS MB after the run', (c) => f1(median((ends.get(c) ?? []).map((e) => e.rss)))],
    ['failed requests (all runs)', (c) => String(failed(c))],
    ['failed plugin calls (all runs)', (c) => String((ends.get(c) ?? []).reduce((a, e) => a + e.pluginFailures, 0))],
  ];
  const runs = o.repeats * o.rounds;
  const out = [
    `Through weft gateway (${o.repeats} generations of fresh gateways x ${o.rounds} rounds alternating between them: medians of ${runs} wrk runs of ${o.seconds} s per contender and connection count, wrk -t1):`,
    '',
    `| metric |${names.map((n) => ` ${n} |`).join('')}`,
    `| --- |${names.map(() => ' ---: |').join('')}`,
    ...rows.map(([label, cell]) => `| ${label} |${names.map((n) => ` ${cell(n)} |`).join('')}`),
  ];
  const added = (c: Contender) => medOf(c, 1, (s) => s.p50) - none50;
  const goals: string[] = [];
  if (samples.has('one') && samples.has('none')) goals.push(`one plugin adds ${f0(added('one'))} us at p50 (<= 10: ${goal(added('one') <= 10)})`);
  if (samples.has('chain3') && samples.has('none')) goals.push(`chain of three ${f0(added('chain3'))} us (<= 25: ${goal(added('chain3') <= 25)})`);
  if (samples.has('one2') && samples.has('none')) goals.push(`(not a goal) one plugin called in both header phases ${f0(added('one2'))} us`);
  if (goals.length) out.push('', `goals (gateway, 1 conn): ${goals.join('; ')}`);
  const spread = (xs: number[]) => {
    const m = median(xs);
    return m ? `${(((Math.max(...xs) - Math.min(...xs)) / m) * 100).toFixed(0)}%` : '-';
  };
  out.push(`p50 us at 1 conn, each run (in run order): ${names.map((n) => `${n} ${at(n, 1).map((s) => f0(s.p50)).join('/')}`).join('; ')}`);
  out.push(
    `noise (spread across runs, (max-min)/median): p50 at 1 conn ${names.map((n) => `${n} ${spread(at(n, 1).map((s) => s.p50))}`).join(', ')}; req/s at 64 conns ${names.map((n) => `${n} ${spread(at(n, 64).map((s) => s.rps))}`).join(', ')}`,
  );
  return out.join('\n');
}

async function microPart(dir: string, o: { calls: number; natives: Map<Builtin, string> }): Promise<string> {
  const rows: MicroResult[] = [];
  for (const variant of ['wasm', 'native'] as const) {
    for (const plugin of BUILTINS) {
      const url = variant === 'wasm' ? `file:///builtin/${plugin}.wasm` : o.natives.get(plugin)!;
      process.stderr.write(`micro: ${plugin} (${variant})\n`);
      const args = ['--role', 'micro', '--plugin', plugin, '--variant', variant, '--url', url, '--calls', String(o.calls), '--builtin-dir', BUILTIN_DIR];
      const timed = await childRole<MicroResult>([...args, '--mode', 'time']);
      const mem = await childRole<{ instMb: number }>([...args, '--mode', 'memory']);
      rows.push({ ...timed, instMb: mem.instMb });
    }
  }
  process.stderr.write('micro: cold loads\n');
  const cold: number[] = [];
  const coldShipped: number[] = [];
  for (let i = 0; i < 5; i++) {
    cold.push((await childRole<{ ms: number }>(['--role', 'cold', '--builtin-dir', BUILTIN_DIR, '--tmp', dir])).ms);
    coldShipped.push((await childRole<{ ms: number }>(['--role', 'cold', '--shipped', '1', '--builtin-dir', BUILTIN_DIR, '--tmp', dir])).ms);
  }
  process.stderr.write('micro: swaps\n');
  const swaps = await childRole<{ configMs: number[]; componentMs: number[] }>(['--role', 'swap', '--builtin-dir', BUILTIN_DIR, '--tmp', dir]);
  const out = [
    `In process on Node ${process.version} (${o.calls / 1000}k calls after warm-up, each plugin in a fresh process; createNodePluginRuntime -> PluginSet handle -> a RecordedExchange):`,
    '',
    `| plugin | build | phases called | first phase p50 us | first phase p99 us | per request p50 us | per request p99 us | MB per instance (RSS delta / ${EXTRA_INSTANCES}) | failures |`,
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.plugin} | ${r.variant} | ${r.phases} | ${f2(r.callP50)} | ${f2(r.callP99)} | ${f2(r.reqP50)} | ${f2(r.reqP99)} | ${f2(r.instMb)} | ${r.failures} |`),
    '',
    `cold load (the first plugin of a fresh process, update() until its PluginSet serves), median of 5: a component never seen (a rebuilt header-rewrite, a new sha256, empty cache; its shape matches the built-ins' index, so no jco) ${f0(median(cold))} ms (${cold.map(f0).join(', ')}); the built-in header-rewrite as shipped (default caches) ${f0(median(coldShipped))} ms (${coldShipped.map(f0).join(', ')})`,
    `warm swap, new config (same component), median of ${swaps.configMs.length}: ${f1(median(swaps.configMs))} ms (${swaps.configMs.map(f1).join(', ')})`,
    `warm swap, new component (the user's rebuild, a sha256 never seen: fetch, glue by shape, meter and compile the changed modules, 2 instances), median of ${swaps.componentMs.length}: ${f0(median(swaps.componentMs))} ms (${swaps.componentMs.map(f0).join(', ')})`,
  ];
  const wasmRow = (p: string) => rows.find((r) => r.variant === 'wasm' && r.plugin === p);
  const one = wasmRow('header-rewrite')?.reqP50 ?? NaN;
  const worst = rows.filter((r) => r.variant === 'wasm' && r.plugin !== 'l4-allow-list').sort((a, b) => b.reqP50 - a.reqP50)[0];
  const sum3 = ['header-rewrite', 'rate-limit', 'ab-router'].reduce((s, p) => s + (wasmRow(p)?.reqP50 ?? NaN), 0);
  const maxMb = Math.max(...rows.filter((r) => r.variant === 'wasm').map((r) => r.instMb));
  const cfgSwap = median(swaps.configMs);
  const compSwap = median(swaps.componentMs);
  out.push(
    '',
    `goals (Node, in process, per request at p50): one plugin (header-rewrite, as in the gateway's \`one\`) ${f2(one)} us (<= 10: ${goal(one <= 10)}; the slowest built-in, ${worst?.plugin}, ${f2(worst?.reqP50 ?? NaN)} us); ` +
      `chain of three (header-rewrite + rate-limit + ab-router, sum of p50s) ${f2(sum3)} us (<= 25: ${goal(sum3 <= 25)}); ` +
      `<= 1 MB per instance: worst ${f2(maxMb)} MB (${goal(maxMb <= 1)}); swap < 200 ms: config ${f1(cfgSwap)} ms (${goal(cfgSwap < 200)}), component ${f0(compSwap)} ms (${goal(compSwap < 200)})`,
  );
  return out.join('\n');
}

async function main(): Promise<void> {
  const repeats = Number(opt('repeats', '3'));
  const seconds = Number(opt('seconds', '5'));
  const rounds = Number(opt('rounds', '3'));
  const calls = Number(opt('calls', '100000'));
  const only = opt('only', CONTENDERS.join(',')).split(',') as Contender[];
  for (const c of only) if (!(CONTENDERS as readonly string[]).includes(c)) throw new Error(`--only: no contender ${c} (${CONTENDERS.join(', ')})`);
  if (!only.includes('none')) only.unshift('none');
  const skip = new Set(opt('skip', '').split(',').filter(Boolean));
  for (const s of skip) if (!['gateway', 'micro', 'edge', 'edge-wrk', 'edge-micro'].includes(s)) throw new Error(`--skip: no part ${s} (gateway, micro, edge, edge-wrk, edge-micro)`);
  const runtimes = opt('runtimes', EDGE_RUNTIMES.join(',')).split(',').filter(Boolean) as EdgeRuntime[];
  for (const r of runtimes) if (!(EDGE_RUNTIMES as readonly string[]).includes(r)) throw new Error(`--runtimes: no runtime ${r} (${EDGE_RUNTIMES.join(', ')})`);
  const batch = Number(opt('batch', '5000'));
  if (!existsSync(WEFT_BIN) || !existsSync(join(BUILTIN_DIR, 'header-rewrite.wasm'))) throw new Error(`${WEFT_BIN} or its plugins/ is missing: WEFT_DIST=DIR node build.mjs`);
  const dir = mkdtempSync(join(tmpdir(), 'weft-plugins-bench-'));
  try {
    // the native builds: the built-ins' TypeScript as plain modules (build/native.ts)
    mkdirSync(join(dir, 'native'), { recursive: true });
    const natives = new Map<Builtin, string>();
    let nativeRewrite = { url: '', sha256: '' };
    for (const name of BUILTINS) {
      const r = await buildPlugin({ dir: builtinSource(name), backend: 'native', outFile: join(dir, 'native', `${name}.mjs`) });
      natives.set(name, pathToFileURL(r.outFile).href);
      if (name === 'header-rewrite') nativeRewrite = { url: pathToFileURL(r.outFile).href, sha256: r.sha256 };
    }
    console.log('The machine is shared with other work and noisy: compare contenders within one run, not across runs.\n');
    if (!skip.has('gateway')) console.log(`${await gatewayPart(dir, { repeats, rounds, seconds, only, native: nativeRewrite })}\n`);
    if (!skip.has('micro')) console.log(`${await microPart(dir, { calls, natives })}\n`);
    if (!skip.has('edge') && !skip.has('edge-wrk') && runtimes.length) console.log(`${await edgeWrkPart(dir, { repeats, seconds, runtimes, builtinDir: BUILTIN_DIR })}\n`);
    if (!skip.has('edge') && !skip.has('edge-micro') && runtimes.length) console.log(await edgeMicroPart(dir, { calls, batch, runtimes, builtinDir: BUILTIN_DIR }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Instances made for the memory figure (RSS delta over them). 200, not 40: the process's one-time
 * growth when instances are added (V8 code and heap pages, malloc arenas: ~10 MB) divided by 40 put
 * 0.2-0.4 MB of noise into each instance's figure (header-rewrite 0.90-1.07 MB by 40, 0.65-0.70 by
 * 200 on the same build, 2026-11-27).
 */
const EXTRA_INSTANCES = 200;

async function role(name: string): Promise<void> {
  let r: unknown;
  if (name === 'micro') {
    r = await runMicroRole({
      plugin: opt('plugin', '') as Builtin,
      variant: opt('variant', 'wasm') as 'wasm' | 'native',
      url: opt('url', ''),
      builtinDir: opt('builtin-dir', BUILTIN_DIR),
      calls: Number(opt('calls', '100000')),
      extraInstances: EXTRA_INSTANCES,
      mode: opt('mode', 'time') as 'time' | 'memory',
    });
  } else if (name === 'cold') r = await runColdRole({ builtinDir: opt('builtin-dir', BUILTIN_DIR), tmp: opt('tmp', tmpdir()), shipped: opt('shipped', '') === '1' });
  else if (name === 'edge-micro') {
    r = await runEdgeMicroNodeRole({ preparedDir: opt('dir', ''), plugin: opt('plugin', '') as Builtin, mode: opt('mode', 'time'), calls: Number(opt('calls', '100000')), batch: Number(opt('batch', '5000')), extra: Number(opt('extra', '20')) });
  } else if (name === 'swap') r = await runSwapRole({ builtinDir: opt('builtin-dir', BUILTIN_DIR), tmp: opt('tmp', tmpdir()), times: 5 });
  else throw new Error(`unknown role ${name}`);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  // the transpiler worker idles for a while: do not wait for it
  process.exit(0);
}

const roleName = opt('role', '');
(roleName ? role(roleName) : main().then(() => process.exit(0))).catch((err) => {
  console.error(err);
  process.exit(1);
});
