// Figures for the README's "Single binary" section: startup to ready and idle RSS of `weft up` (the
// embedded sample) run as the SEA binary, as the npm bundle on node (plain, and through the npm
// launcher dist/weft with its V8 flags; the binary too, as the systemd unit runs it), and as the
// bundle on Deno
// (`deno run`: the runtime `deno compile` embeds). Each variant runs RUNS times on a warm state
// directory (CA made and built-ins extracted by a first, unmeasured run); startup is from spawn to
// the first 200 from /healthz/ready, idle RSS is VmRSS 3 s after one request through the gateway.
// Usage: WEFT_DIST=.tmp/dist-binary node scripts/measure-binary.mjs [runs]   (needs 15008 free)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const dist = resolve(process.env.WEFT_DIST ?? 'dist');
const runs = Number(process.argv[2] ?? 5);
const base = Number(process.env.WEFT_MEASURE_PORT ?? 27000);
// the npm launcher's V8 flags for `weft up`, which deploy/systemd/weft.service gives the binary
const V8_FLAGS = '--max-semi-space-size=1 --v8-pool-size=1';
const ports = ['--xds-port', base + 10, '--secure-port', base + 12, '--http-port', base + 14, '--admin-port', base + 0, '--stats-port', base + 20, '--ready-port', base + 21, '--socks-port', base + 80, '--dns-port', base + 53, '--port-offset', 3000].map(String);
const deno = resolve('node_modules/.bin/deno');
const binary = join(dist, `weft-${process.platform}-${process.arch}`);
const variants = [
  { name: 'SEA binary', cmd: binary, args: [] },
  { name: 'SEA + NODE_OPTIONS', cmd: binary, args: [], env: { NODE_OPTIONS: V8_FLAGS } },
  { name: 'npm bundle (node)', cmd: process.execPath, args: [join(dist, 'weft.mjs')] },
  // the npm `weft` launcher: the same bundle with V8's young-generation cap for `weft up`
  { name: 'npm launcher', cmd: join(dist, 'weft'), args: [] },
  { name: 'bundle on Deno', cmd: deno, args: ['run', '-A', join(dist, 'weft.mjs')] },
  // WEFT_MEASURE_EXTRA=a,b: other executables to compare (a binary built another way)
  ...(process.env.WEFT_MEASURE_EXTRA?.split(',') ?? []).map((f) => ({ name: `extra ${f}`, cmd: resolve(f), args: [] })),
];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function once(v, state) {
  const t0 = performance.now();
  const child = spawn(v.cmd, [...v.args, 'up', '--state', state, ...ports], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...v.env, WEFT_STATE_DIR: state } });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${v.name} exited: ${err}`);
      if (performance.now() - t0 > 30_000) throw new Error(`${v.name} not ready in 30 s: ${err}`);
      const ok = await fetch(`http://127.0.0.1:${base + 21}/healthz/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      await sleep(5);
    }
    const readyMs = performance.now() - t0;
    const r = await fetch(`http://127.0.0.1:${8080 + 3000}/echo/measure`);
    await r.arrayBuffer();
    await sleep(3000);
    const rssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
    return { readyMs, rssMb, status: r.status };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// WEFT_MEASURE=SEA,npm: only the variants whose names include one of these words
const only = process.env.WEFT_MEASURE?.split(',');
const chosen = variants.filter((v) => !only || only.some((w) => v.name.includes(w)));
const results = new Map(chosen.map((v) => [v, []]));
const states = new Map();
try {
  for (const v of chosen) {
    states.set(v, mkdtempSync(join(tmpdir(), 'weft-measure-')));
    await once(v, states.get(v)).catch((e) => results.set(v, e)); // warm: CA, token key, extracted built-ins
  }
  // rounds interleave the variants, so a busy moment on a shared machine costs each the same
  for (let i = 0; i < runs; i++) {
    for (const v of chosen) {
      const rs = results.get(v);
      if (rs instanceof Error) continue;
      await once(v, states.get(v)).then((r) => rs.push(r), (e) => results.set(v, e));
    }
  }
} finally {
  for (const s of states.values()) rmSync(s, { recursive: true, force: true });
}
for (const [v, rs] of results) {
  if (rs instanceof Error) {
    console.log(`${v.name.padEnd(22)} failed: ${rs.message.slice(0, 500)}`);
    continue;
  }
  const size = v.cmd === binary ? `, ${(statSync(binary).size / 2 ** 20).toFixed(1)} MB` : '';
  console.log(`${v.name.padEnd(22)} ready ${Math.round(median(rs.map((r) => r.readyMs)))} ms (${rs.map((r) => Math.round(r.readyMs)).join(', ')}), idle RSS ${median(rs.map((r) => r.rssMb)).toFixed(0)} MB (${rs.map((r) => r.rssMb.toFixed(0)).join(', ')}), HTTP ${[...new Set(rs.map((r) => r.status))].join(',')}${size}`);
}
