/**
 * The plugins bench's edge parts, run and printed as tables: through the edge host on each runtime
 * (edge.ts, wrk) and in process on each runtime (edge-runtimes.ts). Ratios are against the edge
 * host on Node (the same host code and plugin runtime, so a ratio is the runtime's share).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median } from '../lib/load.ts';
import { EDGE_CONTENDERS, measureEdge, prepareEdge, type EdgeContenderName, type EdgeRuntime, type EdgeSample } from './edge.ts';
import { edgeMicro, type EdgeMicroRow } from './edge-runtimes.ts';
import { startOrigin } from './gateway.ts';
import type { Builtin } from './specs.ts';
import { preparePlugins } from '../../runtime/plugins/prepare.ts';

const f0 = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '-');
const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-');
const k = (v: number) => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)}k` : '-');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}x` : '-');
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

export async function edgeWrkPart(dir: string, o: { repeats: number; seconds: number; runtimes: readonly EdgeRuntime[]; builtinDir: string }): Promise<string> {
  const conns = [1, 64];
  const prep = await prepareEdge(join(dir, 'edge'), o.builtinDir, o.runtimes);
  const keys = o.runtimes.flatMap((rt) => EDGE_CONTENDERS.map((c) => ({ rt, c, key: `edge-${rt}-${c}` })));
  const results = new Map<string, EdgeSample[]>(keys.map((x) => [x.key, []]));
  const loadBefore = loadavg();
  const stopOrigin = await startOrigin(join(dir, 'edge-origin'));
  try {
    for (let rep = 0; rep < o.repeats; rep++) {
      const order = keys.slice(rep % keys.length).concat(keys.slice(0, rep % keys.length));
      for (const x of order) {
        process.stderr.write(`repeat ${rep + 1}/${o.repeats}: ${x.key}\n`);
        results.get(x.key)!.push(await measureEdge(prep, x.rt, x.c, o.seconds, conns));
      }
    }
  } finally {
    await stopOrigin();
  }
  const med = (key: string, get: (s: EdgeSample) => number) => median((results.get(key) ?? []).map(get));
  const key = (rt: EdgeRuntime, c: EdgeContenderName) => `edge-${rt}-${c}`;
  const added = (rt: EdgeRuntime, c: EdgeContenderName, get: (s: EdgeSample) => number) => med(key(rt, c), get) - med(key(rt, 'none'), get);
  const p50 = (s: EdgeSample) => s.p50[1]!;
  const p99 = (s: EdgeSample) => s.p99[1]!;
  const cpu1 = (s: EdgeSample) => s.cpuPer1k[1]!;
  const cpu64 = (s: EdgeSample) => s.cpuPer1k[64]!;
  const out = [
    `Through the edge host (hosts/edge) on each runtime, same origin, Gateway, HTTPRoute and WasmPlugins (failStrategy FAIL_CLOSE here), a fresh process per contender and repeat; medians of ${o.repeats} repeat(s), ${o.seconds} s per wrk run, wrk -t1; load average ${loadBefore} before, ${loadavg()} after:`,
    '',
    '| contender | req/s 1 conn | req/s 64 conn | p50 us 1 conn | p99 us 1 conn | p50 added over none (us) | p99 added over none (us) | CPU ms / 1k req, 1 conn | CPU ms / 1k req, 64 conn | CPU added over none, 64 conn | RSS MB after | failed requests |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { rt, c, key: kk } of keys) {
    const none = c === 'none';
    out.push(
      `| ${kk} | ${k(med(kk, (s) => s.rps[1]!))} | ${k(med(kk, (s) => s.rps[64]!))} | ${f0(med(kk, p50))} | ${f0(med(kk, p99))} | ${none ? '' : f0(added(rt, c, p50))} | ${none ? '' : f0(added(rt, c, p99))} | ${f1(med(kk, cpu1))} | ${f1(med(kk, cpu64))} | ${none ? '' : f1(added(rt, c, cpu64))} | ${f1(med(kk, (s) => s.rss))} | ${(results.get(kk) ?? []).reduce((a, s) => a + s.failed, 0)} |`,
    );
  }
  // what a plugin adds, runtime by runtime, as ratios against the edge host on Node
  const hasNode = o.runtimes.includes('node');
  out.push('', 'Added by the plugins over `none` on the same runtime (p50 at 1 conn; CPU per 1k requests at 64 conns), and against the edge host on Node:', '');
  out.push('| runtime | one: p50 added us | one: CPU added ms | chain3: p50 added us | chain3: CPU added ms | one: p50 added vs Node | one: CPU added vs Node | none: CPU ms (64 conn) vs Node |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const rt of o.runtimes) {
    const ref = (c: EdgeContenderName, get: (s: EdgeSample) => number) => (hasNode ? added('node', c, get) : NaN);
    out.push(
      `| ${rt} | ${f0(added(rt, 'one', p50))} | ${f1(added(rt, 'one', cpu64))} | ${f0(added(rt, 'chain3', p50))} | ${f1(added(rt, 'chain3', cpu64))} | ${ratio(added(rt, 'one', p50), ref('one', p50))} | ${ratio(added(rt, 'one', cpu64), ref('one', cpu64))} | ${hasNode ? ratio(med(key(rt, 'none'), cpu64), med(key('node', 'none'), cpu64)) : '-'} |`,
    );
  }
  const procs = keys.map((x) => `${x.key} ${results.get(x.key)?.[0]?.procs ?? '?'}`).join('; ');
  out.push('', `processes measured (pid:comm, first repeat): ${procs}`);
  return out.join('\n');
}

const MICRO_PLUGINS: Builtin[] = ['header-rewrite', 'rate-limit', 'ab-router', 'jwt-claims'];

export async function edgeMicroPart(dir: string, o: { calls: number; batch: number; runtimes: readonly EdgeRuntime[]; builtinDir: string }): Promise<string> {
  const rows: EdgeMicroRow[] = [];
  const scratch = { denoDir: join(dir, 'edge-micro', 'deno-cache'), dir: join(dir, 'edge-micro') };
  mkdirSync(scratch.denoDir, { recursive: true });
  // prepared as a deploy prepares them (jco glue + metered core modules), once for every runtime
  const preparedDir = join(dir, 'edge-micro', 'prepared');
  process.stderr.write('edge micro: preparing the built-ins\n');
  await preparePlugins(o.builtinDir, MICRO_PLUGINS, preparedDir);
  for (const plugin of MICRO_PLUGINS) {
    for (const rt of o.runtimes) {
      process.stderr.write(`edge micro: ${plugin} on ${rt}\n`);
      rows.push({ ...(await edgeMicro(rt, { preparedDir, plugin, calls: o.calls, batch: o.batch, extra: 20 }, scratch)), runtime: rt });
    }
  }
  const nodeRow = (p: string) => rows.find((r) => r.plugin === p && r.runtime === 'node');
  const step = (rt: string) => rows.find((r) => r.runtime === rt)?.clockStepUs ?? NaN;
  const out = [
    `In process through the edge host's plugin runtime (core createPluginRuntime over hosts/edge bundledPluginLoader, the prepared built-ins), each plugin in a fresh process per runtime; ${o.calls / 1000}k calls after warm-up; load average ${loadavg()}:`,
    '',
    '| plugin | runtime | phases | per request p50 us | per request p99 us | first phase p50 us | batch mean us (batches of ' + o.batch + ') | batch-mean p50 / p99 us | mean vs Node | MB per instance (RSS delta / 40) | compile ms | cold load ms | failures |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.plugin} | ${r.runtime} | ${r.phases} | ${f2(r.reqP50)} | ${f2(r.reqP99)} | ${f2(r.callP50)} | ${f2(r.batchMean)} | ${f2(r.batchP50)} / ${f2(r.batchP99)} | ${ratio(r.batchMean, nodeRow(r.plugin)?.batchMean ?? NaN)} | ${f2(r.instMb)}${r.gc ? '' : ' (no gc)'} | ${f0(r.compileMs)} | ${f1(r.coldMs)} | ${r.failures} |`,
    ),
    '',
    `clock steps seen (us): ${o.runtimes.map((rt) => `${rt} ${f2(step(rt))}`).join(', ')}. Where the step is 1000 us or more (workerd: Date.now() and performance.now() alike) a single call cannot be timed: only the batch columns are measured there, and the per-request columns show '-'.`,
    "compile ms: Node and Deno read and compile the prepared core modules at start (hosts/edge/prepared-dir.ts); workerd compiles them while loading the worker, so its figure is workerd's start-to-listening time (isolate start included). cold load ms: update() of the first binding until it serves (instances from the compiled modules).",
  ];
  return out.join('\n');
}
