/**
 * The edge host benchmark (issue 6): requests per second, p50/p99 and CPU per 1,000 requests for the
 * edge host on Node (@hono/node-server), Deno (`deno serve`) and workerd, beside the Node gateway
 * (`weft control` + `weft gateway` from $WEFT_DIST), all in front of one nginx origin answering a
 * 20-byte body on loopback, with the same config: a Gateway (class weft) and one HTTPRoute to the
 * origin (test/bench/lib/gateway-mesh.ts). The edge hosts run from a snapshot of the control plane's
 * REST-JSON xDS for that Gateway (no polling during the runs). wrk -t1 at 1 and 64 connections;
 * contenders alternate within each repeat (order rotated); medians over repeats. CPU is the
 * contender's process utime+stime from /proc (workerd and deno: their one process; Node: the
 * gateway process only, not the control plane).
 *
 * nginx (proxy_pass, upstream keepalive, one worker) is the native peer; ratios are against it.
 * Usage: WEFT_DIST=DIR node test/bench/run.mjs edge [--repeats 3] [--seconds 5] [--conns 1,64]
 *          [--only nginx,node-gateway,edge-node,edge-deno,edge-workerd]
 * Needs nginx and wrk; deno and workerd from node_modules/.bin (npm packages).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayMesh } from '../lib/gateway-mesh.ts';
import { cpuMs, median, waitPort, wrk } from '../lib/load.ts';
import { nginxConf, originServer } from '../l7/origin.ts';
import { startControlAndGateway } from '../../support/proxy-fixtures.ts';
import { weftSync } from '../../support/weft-process.ts';
import { killAll } from '../../runtime/harness.ts';
import { bundleNodeEntry, prepareWorkerdBundle, startEdgeDeno, startEdgeNode, startEdgeWorkerd } from '../../runtime/edge/contenders.ts';
import { restSnapshot } from '../../runtime/edge/rest-snapshot.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const repeats = Number(opt('repeats', '3'));
const seconds = Number(opt('seconds', '5'));
const conns = opt('conns', '1,64').split(',').map(Number);
const ALL = ['nginx', 'node-gateway', 'edge-node', 'edge-deno', 'edge-workerd'];
const only = opt('only', ALL.join(',')).split(',');
const P = { origin: 18280, gateway: 18281, edgeNode: 18282, edgeDeno: 18283, edgeWorkerd: 18284, nginx: 18285 };
const LONG_MS = 6 * 3600_000;

interface Running {
  name: string;
  url: string;
  pids: number[];
  stop(): Promise<void>;
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

async function startNginx(name: string, dir: string, port: number, server: string): Promise<Running> {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, server));
  const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`${name}: ${d}`));
  await waitPort(port);
  // nginx's master only waits; its one worker serves (the CPU that counts)
  const workers = (await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
  return { name, url: `http://127.0.0.1:${port}`, pids: [child.pid!, ...workers], stop: () => stopChild(child) };
}

const startOrigin = (dir: string): Promise<Running> => startNginx('origin', dir, P.origin, originServer(`127.0.0.1:${P.origin}`));

/** The native peer (design brief): nginx proxy_pass with upstream keepalive, one worker, as in the L7 bench. */
const startNginxProxy = (dir: string): Promise<Running> =>
  startNginx(
    'nginx',
    dir,
    P.nginx,
    `upstream origin { server 127.0.0.1:${P.origin}; keepalive 128; }
  server { listen 127.0.0.1:${P.nginx}; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; } }`,
  );

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  cpuPer1k: number;
  errors: number;
}

async function measure(r: Running, c: number): Promise<Sample> {
  const before = await cpuMs(r.pids);
  const w = await wrk(`${r.url}/`, c, seconds);
  const used = (await cpuMs(r.pids)) - before;
  return { rps: w.rps, p50: w.p50us / 1000, p99: w.p99us / 1000, cpuPer1k: w.requests ? (used / w.requests) * 1000 : NaN, errors: w.errors + w.non2xx };
}

const dir = mkdtempSync(join(tmpdir(), 'weft-bench-edge-'));
const running: Running[] = [];
let cleaned = false;
async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  await Promise.allSettled(running.map((r) => r.stop()));
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void cleanup().then(() => process.exit(130)));

try {
  running.push(await startOrigin(join(dir, 'origin')));
  if (only.includes('nginx')) running.push(await startNginxProxy(join(dir, 'nginx')));
  const config = join(dir, 'config');
  const state = join(dir, 'state');
  mkdirSync(config, { recursive: true });
  writeFileSync(join(config, 'bench.yaml'), gatewayMesh(P.origin, P.gateway));
  const { control, gateway } = await startControlAndGateway({ config, state, gateway: 'bench/edge' });
  running.push({ name: 'control', url: control.http, pids: [], stop: () => control.stop() }, { name: 'node-gateway', url: `http://127.0.0.1:${P.gateway}`, pids: [gateway.child.pid!], stop: () => gateway.stop() });
  const token = weftSync(['token', 'create', '--gateway', 'bench/edge', '--state', state]).stdout.trim();
  const snapshotFile = join(dir, 'snapshot.json');
  writeFileSync(snapshotFile, JSON.stringify(await restSnapshot(control.http, token, { namespace: 'bench', name: 'edge' }, {})));
  const env = { WEFT_SNAPSHOT: snapshotFile };
  if (only.includes('edge-node')) {
    const ndir = join(dir, 'node');
    mkdirSync(ndir);
    const e = await startEdgeNode({ port: P.edgeNode, dir: ndir, env, timeoutMs: LONG_MS }, await bundleNodeEntry(ndir));
    running.push({ name: e.name, url: e.url, pids: [e.pid], stop: e.stop });
  }
  if (only.includes('edge-deno')) {
    const denoDir = join(dir, 'deno-cache');
    mkdirSync(denoDir);
    const e = await startEdgeDeno({ port: P.edgeDeno, dir, env, timeoutMs: LONG_MS, denoDir });
    running.push({ name: e.name, url: e.url, pids: [e.pid], stop: e.stop });
  }
  if (only.includes('edge-workerd')) {
    const wdir = join(dir, 'workerd');
    mkdirSync(wdir);
    const wconfig = await prepareWorkerdBundle({ dir: wdir, snapshotFile, port: P.edgeWorkerd });
    const e = await startEdgeWorkerd({ port: P.edgeWorkerd, dir: wdir, env: {}, timeoutMs: LONG_MS, config: wconfig });
    running.push({ name: e.name, url: e.url, pids: [e.pid], stop: e.stop });
  }
  const contenders = running.filter((r) => only.includes(r.name));
  // a short warm-up each (JIT, connection pools)
  for (const r of contenders) await wrk(`${r.url}/`, 8, 1);
  // the machine is shared: its load beside the figures says how far they can be trusted
  const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const loadBefore = load();
  const samples = new Map<string, Sample[]>();
  for (let rep = 0; rep < repeats; rep++) {
    for (const c of conns) {
      const order = contenders.map((_, i) => contenders[(i + rep) % contenders.length]!);
      for (const r of order) {
        const s = await measure(r, c);
        const key = `${r.name}|${c}`;
        samples.set(key, [...(samples.get(key) ?? []), s]);
        process.stderr.write(`  repeat ${rep + 1}/${repeats}  ${r.name.padEnd(13)} c=${String(c).padEnd(3)} ${s.rps.toFixed(0)} req/s\n`);
      }
    }
  }
  const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  console.log(`\nedge host bench: ${seconds} s per run, ${repeats} repeat(s), medians; nginx origin, 20-byte body; wrk -t1; load average ${loadBefore} before, ${load()} after\n`);
  console.log('| contender | conns | req/s | req/s vs nginx | p50 ms | p99 ms | CPU ms / 1k req | CPU vs nginx | errors |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const c of conns) {
    const peer = samples.get(`nginx|${c}`) ?? [];
    const peerRps = median(peer.map((x) => x.rps));
    const peerCpu = median(peer.map((x) => x.cpuPer1k));
    for (const r of contenders) {
      const s = samples.get(`${r.name}|${c}`) ?? [];
      const rps = median(s.map((x) => x.rps));
      const cpu = median(s.map((x) => x.cpuPer1k));
      const ratio = (a: number, b: number) => (peer.length && Number.isFinite(a) && b > 0 ? `${(a / b).toFixed(2)}x` : '-');
      console.log(`| ${r.name} | ${c} | ${f(rps, 0)} | ${ratio(rps, peerRps)} | ${f(median(s.map((x) => x.p50)))} | ${f(median(s.map((x) => x.p99)))} | ${f(cpu, 1)} | ${ratio(cpu, peerCpu)} | ${s.reduce((a, x) => a + x.errors, 0)} |`);
    }
  }
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await cleanup();
}
