/**
 * `weft up` memory (issue 6: idle under 50 MB, under 80 MB at 1,000 req/s through the gateway, ready
 * under 1 s). Starts the built `weft up` on the embedded sample, as `node DIST/weft.mjs up` and as the
 * launcher `DIST/weft up` (its V8 flags), variants alternating, and records per run: ready time (the
 * banner's figure, from process start, and spawn to banner), VmRSS at ready, VmRSS after 5 s idle, and
 * VmRSS peak and at the end of a paced load through the gateway, and CPU (utime+stime) per 1,000
 * requests. Medians over --repeats. `--dist A,B` compares builds (every variant on each, alternating).
 *
 * Runs in a network namespace of its own (root; `ip netns add`, lo up), so the default ports and
 * HBONE's 15008 on 127.0.0.1/127.0.0.2 never collide with another process or test.
 *
 * Load: an open-loop paced client of its own (Debian's wrk has no -R): every 10 ms it sends as many
 * requests as the rate owes since the start, on a keep-alive pool of --conns connections to the
 * Istio ingress (8080) at /echo/. The sample's rate-limit plugin (one global bucket, 100/s, burst 200)
 * answers most of a 1,000/s load with 429 at the gateway; `--full-path` serves a copy of the sample
 * from a directory (--config) with the limit raised to 100,000/s, so every request crosses
 * gateway -> HBONE mTLS -> node proxy -> echo backend (then the echo backends run in this bench's
 * process, not in weft up's: --config serves no in-process backends).
 *
 * --breakdown: one more run per variant with `--import` of a preload that, on SIGUSR2, writes
 * process.memoryUsage() before and after a forced full GC (garbage vs live), V8's heap spaces and
 * code statistics, VmRSS by kind of mapping (node binary, malloc heap, anonymous, JIT/Wasm code) and,
 * with --snapshot, a heap snapshot summarised by node type, constructor and the bundle's source text.
 *
 *   node test/bench/node-memory/up-memory.mjs [--dist .tmp/dist-x[,.tmp/dist-y]] [--repeats 3] [--seconds 10] [--rate 1000]
 *       [--conns 8] [--idle-s 5] [--variants node,launcher] [--full-path] [--breakdown] [--snapshot] [--no-load]
 *       [--flags '--max-semi-space-size=1|--max-semi-space-size=2']   (V8 flags for the `node` variant; | between sets)
 *       [--breakdown-load]                    (the breakdown at the end of a load, not idle)
 *       [--maps]                              (each run: VmRSS by kind of mapping, idle and after the load)
 *       [--private-node]                      (weft up runs on a private copy of this node executable)
 *       [--variants binary]                   (the single binary, DIST/weft-<os>-<arch>, with the launcher's V8 flags in NODE_OPTIONS)
 *
 * --private-node: the kernel's page-out (hosts/node/capture/memory-release.ts) leaves alone the pages
 * of the node executable that another process maps too, and this bench's own process is a node
 * process: its pages of the binary stay in weft up's RSS. A copy of the executable in the work
 * directory (first on PATH for the launcher) shares no page with anything, as on a device where weft
 * is the only Node program, or with the single binary, which is its own file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync, copyFileSync, chmodSync } from 'node:fs';
import { createServer, Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const opt = (name, d) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : d;
};
const has = (name) => argv.includes(`--${name}`);

// --- the namespace: re-run this script inside a fresh one -----------------------------------------
if (!process.env.WEFT_UPMEM_IN_NETNS) {
  const ns = `weftupmem${process.pid}`;
  const run = (...a) => spawnSync('ip', a, { stdio: 'inherit' }).status === 0 || (() => { throw new Error(`ip ${a.join(' ')} failed (root needed)`); })();
  run('netns', 'add', ns);
  let code = 1;
  try {
    run('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), ...argv], {
      stdio: 'inherit',
      env: { ...process.env, WEFT_UPMEM_IN_NETNS: '1' },
    });
    code = r.status ?? 1;
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
  process.exit(code);
}

// several builds (comma-separated) to compare: every variant runs on each, runs alternating
const DISTS = opt('dist', process.env.WEFT_DIST ?? 'dist').split(',').map((d) => resolve(d));
const repeats = Number(opt('repeats', '3'));
const seconds = Number(opt('seconds', '10'));
const rate = Number(opt('rate', '1000'));
const conns = Number(opt('conns', '8'));
const idleS = Number(opt('idle-s', '5'));
// several sets of V8 flags for the `node` variant, separated by |: one variant each
const flagSets = opt('flags', '').split('|').map((f) => f.split(' ').filter(Boolean));
const kinds = opt('variants', 'node,launcher').split(',');
/** Each variant: how it is started (`node`: node DIST/weft.mjs up, `launcher`: DIST/weft up) and on which build. */
const variants = DISTS.flatMap((dist) =>
  kinds.flatMap((kind) =>
    (kind === 'node' ? flagSets : [[]]).map((flags) => ({
      kind,
      dist,
      flags,
      name: `${kind === 'launcher' ? 'DIST/weft up' : kind === 'binary' ? 'DIST/weft-<os>-<arch> up' : `node ${flags.length ? flags.join(' ') + ' ' : ''}DIST/weft.mjs up`}${DISTS.length > 1 ? ` (${dist.split('/').pop()})` : ''}`,
    })),
  ),
);
const fullPath = has('full-path');
const work = mkdtempSync(join(tmpdir(), 'weft-upmem-'));
// --private-node: weft up's own copy of the node executable (see the header)
let nodeExe = process.execPath;
const childPath = { PATH: process.env.PATH ?? '' };
if (has('private-node')) {
  mkdirSync(join(work, 'bin'));
  nodeExe = join(work, 'bin', 'node');
  copyFileSync(process.execPath, nodeExe);
  chmodSync(nodeExe, 0o755);
  childPath.PATH = `${join(work, 'bin')}:${childPath.PATH}`;
}
const state = join(work, 'state');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rss = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
/** user + system CPU time of a process, ms (USER_HZ 100) */
const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// --- --full-path: the sample from a directory, the limit raised, backends here --------------------
let configArgs = [];
if (fullPath) {
  const { SAMPLE } = await sampleFiles();
  const dir = join(work, 'config');
  mkdirSync(dir);
  for (const [name, text] of SAMPLE) writeFileSync(join(dir, name), text);
  configArgs = ['--config', dir, '--gateway', 'demo/istio-ingressgateway'];
  for (const [host, port] of [['127.0.0.1', 18080], ['127.0.0.2', 18081]]) {
    const body = Buffer.from('x'.repeat(612));
    createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
    }).listen(port, host);
  }
}

/** The sample mesh as YAML files: taken from a running `weft up`'s own source (core/config/sample). */
async function sampleFiles() {
  const { build } = await import('esbuild');
  const out = await build({
    stdin: { contents: "export { SAMPLE_FILES } from './core/config/sample/index.ts';", resolveDir: resolve(fileURLToPath(import.meta.url), '../../../..'), loader: 'ts' },
    bundle: true,
    format: 'esm',
    write: false,
    platform: 'neutral',
  });
  const mod = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
  return {
    SAMPLE: mod.SAMPLE_FILES.map((f) => {
      let text = f.text.replace('requestsPerSecond: 100\n', 'requestsPerSecond: 100000\n').replace('burst: 200\n', 'burst: 100000\n');
      if (f.path.endsWith('/hello.yaml')) text = text.replace('address: 127.0.0.1', 'address: 127.0.0.2');
      return [f.path.split('/').pop(), text];
    }),
  };
}

// --- one weft up --------------------------------------------------------------------------------
const PRELOAD = join(work, 'preload.mjs');
writeFileSync(
  PRELOAD,
  `import v8 from 'node:v8';
import vm from 'node:vm';
import { writeFileSync } from 'node:fs';
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
process.on('SIGUSR2', () => {
  const beforeGc = process.memoryUsage();
  gc(); // what is live, apart from garbage the next major GC would take

  const out = process.env.WEFT_UPMEM_OUT;
  // the figures first: a snapshot itself takes 100+ MB
  const figures = JSON.stringify({ beforeGc, memoryUsage: process.memoryUsage(), spaces: v8.getHeapSpaceStatistics(), code: v8.getHeapCodeStatistics(), heap: v8.getHeapStatistics() });
  if (process.env.WEFT_UPMEM_SNAPSHOT) v8.writeHeapSnapshot(out + '.heapsnapshot');
  writeFileSync(out, figures);
});
`,
);

/** DIST/weft-<os>-<arch>, made by `node build.mjs --binary` */
function singleBinary(dist) {
  const f = join(dist, `weft-${process.platform}-${process.arch}`);
  if (!existsSync(f)) throw new Error(`${f} missing: build it with WEFT_DIST=${dist} node build.mjs --binary`);
  return f;
}

function start({ kind: variant, dist: DIST, flags: extraFlags }, env = {}, preload = false) {
  const args = ['up', '--state', state, ...configArgs];
  const pre = preload ? [`--import=${PRELOAD}`] : [];
  const [cmd, full] =
    variant === 'launcher'
      ? [join(DIST, 'weft'), args]
      : variant === 'binary'
        ? [singleBinary(DIST), args]
        : [nodeExe, [...extraFlags, join(DIST, 'weft.mjs'), ...args]];
  const t0 = performance.now();
  const child = spawn(cmd, variant === 'node' ? [...pre, ...full] : full, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...childPath,
      // the binary as deploy/systemd/weft.service runs it (the launcher's two V8 flags)
      ...(variant === 'binary' ? { NODE_OPTIONS: `--max-semi-space-size=1 --v8-pool-size=1${preload ? ` --import=${PRELOAD}` : ''}` } : {}),
      ...env,
      ...(preload && variant === 'launcher' ? { NODE_OPTIONS: `--import=${PRELOAD}` } : {}),
    },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`not ready in 30 s: ${out}`)), 30_000);
    child.once('exit', (c) => rej(new Error(`weft up exited ${c}: ${out}`)));
    const check = () => {
      const m = /ready in (\d+) ms \(RSS (\d+) MB\)/.exec(out);
      if (!m) return;
      const readyRss = rss(child.pid); // as close to the banner as this process can read it
      clearTimeout(timer);
      child.stdout.off('data', check);
      res({ child, readyMs: Number(m[1]), spawnMs: performance.now() - t0, readyRss, out: () => out });
    };
    child.stdout.on('data', check);
  });
}

async function stop(child) {
  if (child.exitCode !== null) return;
  child.removeAllListeners('exit');
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([done, sleep(5000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** Open loop: every 10 ms, the requests the rate owes since the start; statuses counted. */
async function load(pid, ms) {
  const agent = new Agent({ keepAlive: true, maxSockets: conns });
  const statuses = {};
  let sent = 0;
  let done = 0;
  let peak = 0;
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 200);
  const one = () =>
    new Promise((res) => {
      const req = request({ host: '127.0.0.1', port: 8080, path: `/echo/${sent}`, agent }, (r) => {
        r.resume();
        r.on('end', () => {
          statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
          done++;
          res();
        });
      });
      req.on('error', (e) => {
        statuses[e.code ?? 'error'] = (statuses[e.code ?? 'error'] ?? 0) + 1;
        res();
      });
      req.end();
    });
  const inflight = new Set();
  await new Promise((res) => {
    const tick = setInterval(() => {
      const el = performance.now() - t0;
      if (el >= ms) {
        clearInterval(tick);
        return res();
      }
      const owed = Math.floor((el / 1000) * rate) - sent;
      for (let i = 0; i < owed; i++) {
        sent++;
        const p = one().then(() => inflight.delete(p));
        inflight.add(p);
      }
    }, 10);
  });
  const end = rss(pid);
  const cpu = cpuMs(pid) - cpu0;
  await Promise.race([Promise.all(inflight), sleep(5000)]);
  clearInterval(sampler);
  agent.destroy();
  return { peak: Math.max(peak, end), end, rps: done / (ms / 1000), statuses, cpuPer1k: (cpu / sent) * 1000 };
}

async function runOnce(variant) {
  const up = await start(variant);
  try {
    await sleep(idleS * 1000);
    const idle = rss(up.child.pid);
    const idleMaps = smaps(up.child.pid);
    const l = has('no-load') ? undefined : await load(up.child.pid, seconds * 1000);
    const loadMaps = l ? smaps(up.child.pid) : undefined;
    if (has('maps')) console.log(`    VmRSS by mapping (MB), idle: ${idleMaps}${loadMaps ? `\n    after the load: ${loadMaps}` : ''}`);
    return { readyMs: up.readyMs, spawnMs: up.spawnMs, readyRss: up.readyRss, idle, ...(l ?? {}) };
  } finally {
    await stop(up.child);
  }
}

async function breakdown(variant) {
  const outFile = join(work, `mem-${variants.indexOf(variant)}.json`);
  const up = await start(variant, { WEFT_UPMEM_OUT: outFile, ...(has('snapshot') ? { WEFT_UPMEM_SNAPSHOT: '1' } : {}) }, true);
  try {
    await sleep(idleS * 1000);
    // --breakdown-load: the figures at the end of a load instead of idle
    if (has('breakdown-load')) await load(up.child.pid, seconds * 1000);
    const rssBefore = rss(up.child.pid);
    const maps = smaps(up.child.pid);
    up.child.kill('SIGUSR2');
    for (let i = 0; i < 600 && !existsSync(outFile); i++) await sleep(100);
    await sleep(200);
    const m = JSON.parse(readFileSync(outFile, 'utf8'));
    const mb = (n) => (n / 2 ** 20).toFixed(1);
    console.log(`\n${variant.name}: VmRSS ${rssBefore.toFixed(1)} MB; before a full GC: heapUsed ${mb(m.beforeGc.heapUsed)}, heapTotal ${mb(m.beforeGc.heapTotal)}; after: ${Object.entries(m.memoryUsage).map(([k, v]) => `${k} ${mb(v)}`).join(', ')} (MB)`);
    console.log(`  heap spaces (used/committed MB): ${m.spaces.map((s) => `${s.space_name.replace('_space', '')} ${mb(s.space_used_size)}/${mb(s.space_size)}`).join(', ')}`);
    console.log(`  code: bytecode+metadata ${mb(m.code.bytecode_and_metadata_size)} MB, code+metadata ${mb(m.code.code_and_metadata_size)} MB, external scripts ${mb(m.code.external_script_source_size)} MB; malloced ${mb(m.heap.malloced_memory)} MB (peak ${mb(m.heap.peak_malloced_memory)})`);
    console.log(`  VmRSS by mapping (MB): ${maps}`);
    if (has('snapshot')) summarise(`${outFile}.heapsnapshot`);
  } finally {
    await stop(up.child);
  }
}

/** Resident memory by kind of mapping: the node binary, other files, malloc's heap, anonymous (V8's heap, Wasm memory), executable anonymous (JIT and Wasm code). */
function smaps(pid) {
  const by = new Map();
  let key = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [, perms, path] = head;
      key = path === process.execPath || path === nodeExe || path.endsWith('/node') ? 'node binary' : path.startsWith('/') ? 'other files' : path === '[heap]' ? 'malloc heap' : path ? path : perms.includes('x') ? 'anon exec (JIT/Wasm code)' : 'anon';
      continue;
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m) by.set(key, (by.get(key) ?? 0) + Number(m[1]) / 1024);
  }
  return [...by].filter(([, v]) => v >= 0.1).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
}

/** A heap snapshot by node type, by constructor, and the source text that scripts hold. */
function summarise(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const f = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const N = f.length;
  const { nodes, strings } = s;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const byType = new Map();
  const byCtor = new Map();
  const add = (m, k, sz) => {
    const e = m.get(k) ?? [0, 0];
    e[0] += sz;
    e[1]++;
    m.set(k, e);
  };
  let total = 0;
  let scriptSource = 0;
  const scripts = [];
  for (let i = 0; i < nodes.length; i += N) {
    const t = types[nodes[i + iType]];
    const name = strings[nodes[i + iName]];
    const sz = nodes[i + iSize];
    total += sz;
    add(byType, t, sz);
    if (t === 'object' || t === 'closure' || t === 'array' || t === 'hidden' || t === 'code') add(byCtor, `${t}:${name.slice(0, 50)}`, sz);
    // the bundle's chunks all begin with build.mjs's banner; V8 keeps each module's source text
    if (t === 'string' && name.startsWith('#!/usr/bin/env node')) {
      scriptSource += sz;
      scripts.push(sz);
    }
  }
  const mb = (n) => (n / 2 ** 20).toFixed(2).padStart(6);
  console.log(`  heap snapshot: ${mb(total)} MB in ${nodes.length / N} nodes; source text of the bundle's chunks ${mb(scriptSource)} MB in ${scripts.length} strings`);
  console.log('  by type:', [...byType].sort((a, b) => b[1][0] - a[1][0]).map(([k, [sz]]) => `${k} ${mb(sz).trim()}`).join(', '));
  console.log('  largest constructors (MB, count):');
  for (const [k, [sz, n]] of [...byCtor].sort((a, b) => b[1][0] - a[1][0]).slice(0, 20)) console.log(`    ${mb(sz)} ${String(n).padStart(7)} ${k}`);
  console.log('  largest strings (KB):');
  const strs = [];
  for (let i = 0; i < nodes.length; i += N) if (types[nodes[i + iType]] === 'string' && nodes[i + iSize] > 64 * 1024) {
      // a chunk's text: named by its first module (esbuild's `// path` comments)
      const str = strings[nodes[i + iName]];
      strs.push([nodes[i + iSize], str.startsWith('#!') ? `chunk${/\n\/\/ (\S+)/.exec(str)?.[1] ? ` from ${/\n\/\/ (\S+)/.exec(str)[1]}` : ` (minified): ${str.slice(str.indexOf('\n', 100) + 1, str.indexOf('\n', 100) + 60)}`}` : str.slice(0, 70).replace(/\s+/g, ' ')]);
    }
  for (const [sz, str] of strs.sort((a, b) => b[0] - a[0]).slice(0, 12)) console.log(`    ${(sz / 1024).toFixed(0).padStart(6)} ${str}`);
}

// --- main ---------------------------------------------------------------------------------------
try {
  console.log(`weft up memory: ${DISTS.join(', ')}, ${repeats} repeats, ${fullPath ? 'full path (rate limit raised)' : 'the embedded sample'}, load ${rate}/s x ${seconds} s on ${conns} connections, idle ${idleS} s${has('private-node') ? ', weft up on a private copy of node' : ''}`);
  await stop((await start(variants[0])).child); // warm-up: the CA and token key in the state directory
  const results = new Map(variants.map((v) => [v, []]));
  for (let r = 0; r < repeats; r++) {
    for (const v of r % 2 ? [...variants].reverse() : variants) {
      const x = await runOnce(v);
      results.get(v).push(x);
      console.log(`  ${v.name.padEnd(24)} ready ${x.readyMs} ms (spawn->banner ${x.spawnMs.toFixed(0)} ms), RSS ready ${x.readyRss.toFixed(1)} MB, idle ${x.idle.toFixed(1)} MB` + (x.peak ? `, load: peak ${x.peak.toFixed(1)} MB, end ${x.end.toFixed(1)} MB, CPU ${x.cpuPer1k.toFixed(0)} ms per 1,000 requests, ${x.rps.toFixed(0)} req/s done ${JSON.stringify(x.statuses)}` : ''));
    }
  }
  console.log('\n| variant | ready RSS (MB) | idle RSS (MB) | RSS at load, peak (MB) | ready (ms) | CPU per 1,000 requests (ms) |');
  console.log('|---|---|---|---|---|---|');
  for (const v of variants) {
    const xs = results.get(v);
    if (!xs.length) continue; // --repeats 0: the breakdown only
    const m = (k) => (xs[0][k] === undefined ? '-' : median(xs.map((x) => x[k])).toFixed(k === 'readyMs' ? 0 : 1));
    console.log(`| \`${v.name}\` | ${m('readyRss')} | ${m('idle')} | ${m('peak')} | ${m('readyMs')} | ${m('cpuPer1k')} |`);
  }
  if (has('breakdown') || has('breakdown-load')) for (const v of variants) await breakdown(v);
} finally {
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
