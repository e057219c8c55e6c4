/**
 * The L7 benchmark (issue 4): in front of one nginx origin answering a 20-byte body, on loopback,
 * side by side in one run: direct, nginx (`proxy_pass`, upstream keepalive), haproxy (`mode http`,
 * `http-reuse always`), the bare Weft engine (forward-all handler: the floor of the data path), the
 * Weft gateway (`weft control` + `weft gateway` from dist/weft.mjs, a Gateway API Gateway and one
 * HTTPRoute), the same gateway with a ten-route HTTPRoute and an AuthorizationPolicy, and (root only)
 * a Weft waypoint behind two node proxies in the L4 bench's netns topology (waypoint.ts: pod a ->
 * node1 -> HBONE -> waypoint -> HBONE -> node2 -> origin in pod c; its CPU and RSS are the three
 * processes' sums, each also shown) with direct-netns, the same topology without proxies, as its
 * latency baseline. One worker process (or thread) each. wrk -t1 at 1, 16 and 64 connections (in
 * pod a's, or pod b's, namespace for those two); contenders alternate within each repeat (order
 * rotated); medians over repeats: req/s, p50/p99, the proxy's CPU ms per 1,000
 * requests (utime+stime from /proc), RSS after the run, ratios to nginx, and the latency each proxy
 * adds over direct at 1 connection.
 *
 * Usage: npm run build && node test/bench/run.mjs l7 [--repeats 3] [--seconds 5] [--conns 1,16,64]
 *          [--only direct,nginx,haproxy,engine,gateway,gateway-10r,waypoint,direct-netns]
 *          [--node-flags '--max-semi-space-size=1 --v8-pool-size=1']   (V8 flags of the waypoint
 *          contender's `weft node` processes; default: the `weft` launcher's)
 * WEFT_DIST=DIR runs DIR/weft.mjs instead of dist/weft.mjs (a build of one's own: WEFT_DIST=DIR node build.mjs).
 * Needs nginx, haproxy and wrk (apt-get install -y nginx haproxy wrk); the waypoint and direct-netns
 * contenders need root, iproute2, util-linux, iptables and curl, and are skipped with a line saying why
 * when any is missing. Namespaces, iptables rules and processes are removed at the end, on an error and
 * on SIGINT/SIGTERM/SIGHUP.
 */
import { gatewayMesh, ONE_RULE } from '../lib/gateway-mesh.ts';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ForwardAllHandler } from '../../../hosts/node/l7/forward-all-handler.ts';
import { L7Server } from '../../../hosts/node/l7/server.ts';
import { Http1Endpoint, tcpDial } from '../../../hosts/node/l7/upstream-pool.ts';
import { cpuMs, median, rssMb, rssMbEach, run, waitPort, wrk } from '../lib/load.ts';
import { WEFT_BIN } from '../../support/weft-child.ts';
import { nginxConf, originServer } from './origin.ts';
import { createMeshSide, MESH_CONTENDERS, meshUnsupportedReason, type MeshSide } from './waypoint.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};

const P = { origin: 18180, nginx: 18181, engine: 18182, haproxy: 18183, gateway: 18184, xds: 18190, secure: 18191, http: 18192, admin: 18193, stats: 18194, ready: 18195 };
// dist/weft.mjs, or $WEFT_DIST/weft.mjs (test/support/weft-child.ts)
const WEFT = WEFT_BIN;

interface Running {
  name: string;
  /** wrk asks for http://127.0.0.1:<port>/ unless `url` is given */
  port?: number;
  url?: string;
  /** wrk runs in this network namespace (the mesh contenders) */
  ns?: string;
  pids: number[];
  /** Processes also shown one by one (the waypoint contender's node1, waypoint, node2). */
  parts?: { name: string; pid: number }[];
  stop(): Promise<void>;
  note?: string;
  check?: (sent: number) => Promise<string>;
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
  const kids = (await run('ps', ['-o', 'pid=', '--ppid', String(child.pid)], 5000)).split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  return { name, port, pids: [child.pid!, ...kids], stop: () => stopChild(child) };
}

async function startHaproxy(dir: string): Promise<Running> {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(
    conf,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
  option forwardfor
frontend fe
  bind 127.0.0.1:${P.haproxy}
  default_backend origin
backend origin
  server o 127.0.0.1:${P.origin}
`,
  );
  const child = spawn('haproxy', ['-f', conf, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`haproxy: ${d}`));
  await waitPort(P.haproxy);
  return { name: 'haproxy', port: P.haproxy, pids: [child.pid!], stop: () => stopChild(child) };
}

async function startEngine(): Promise<Running> {
  const child = spawn(process.execPath, [process.argv[1]!, '--role', 'engine'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ok, fail) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && ok());
    child.once('exit', (c) => fail(new Error(`engine exited with ${c}`)));
  });
  return { name: 'engine', port: P.engine, pids: [child.pid!], stop: () => stopChild(child) };
}

async function runEngineRole(): Promise<void> {
  const endpoint = new Http1Endpoint(`127.0.0.1:${P.origin}`, tcpDial('127.0.0.1', P.origin));
  const server = new L7Server(new ForwardAllHandler(endpoint));
  await server.listen(P.engine, '127.0.0.1');
  process.stdout.write('ready\n');
  const stop = async (): Promise<void> => {
    await server.close(100);
    endpoint.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

/** The gateway's config: the origin as a Service with a WorkloadEntry, a Gateway, one route or ten, and optionally a policy. */
function gatewayConfig(tenRoutes: boolean): string {
  const rules = tenRoutes
    ? [...Array(9).keys()].map((i) => `    - matches: [{ path: { type: PathPrefix, value: /r${i + 1} }, headers: [{ name: x-variant, value: v${i} }] }]\n      backendRefs: [{ name: origin, port: 80 }]`).join('\n') + '\n    - backendRefs: [{ name: origin, port: 80 }]'
    : ONE_RULE;
  const policy = tenRoutes
    ? `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: edge, namespace: bench }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: edge }]
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/blocked*"] } }] }]
`
    : '';
  return gatewayMesh(P.origin, P.gateway, rules, policy);
}

async function startGateway(dir: string, tenRoutes: boolean): Promise<Running> {
  const name = tenRoutes ? 'gateway-10r' : 'gateway';
  const cfg = join(dir, 'config');
  const state = join(dir, 'state');
  mkdirSync(cfg, { recursive: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(join(cfg, 'bench.yaml'), gatewayConfig(tenRoutes));
  const control = spawn(process.execPath, [WEFT, 'control', '--config', cfg, '--state', state, '--listen', '127.0.0.1', '--xds-port', String(P.xds), '--secure-port', String(P.secure), '--http-port', String(P.http)], { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitPort(P.secure);
  const token = execFileSync(process.execPath, [WEFT, 'token', 'create', '--gateway', 'bench/edge', '--state', state], { encoding: 'utf8' }).trim();
  const gw = spawn(process.execPath, [WEFT, 'gateway', '--control', `127.0.0.1:${P.secure}`, '--root-cert', join(state, 'root-cert.pem'), '--token', token, '--listen', '127.0.0.1', '--admin-port', String(P.admin), '--stats-port', String(P.stats), '--ready-port', String(P.ready)], { stdio: ['ignore', 'ignore', 'pipe'] });
  gw.stderr?.on('data', (d: Buffer) => /error|warn/.test(d.toString()) && process.stderr.write(`${name}: ${d}`));
  await waitPort(P.gateway, '127.0.0.1', 20_000);
  // ready means listeners, routes, clusters and endpoints are in: poll a request until it is 200
  const deadline = Date.now() + 20_000;
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${P.gateway}/`).then((r) => r.status, () => 0);
    if (status === 200) break;
    if (Date.now() > deadline) throw new Error(`${name} does not answer 200 (last ${status})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let note: string | undefined;
  if (tenRoutes) {
    const blocked = await fetch(`http://127.0.0.1:${P.gateway}/blocked`).then((r) => r.status, () => 0);
    note = blocked === 403 ? 'AuthorizationPolicy enforced (/blocked -> 403)' : `AuthorizationPolicy NOT enforced (/blocked -> ${blocked})`;
  }
  return {
    name,
    port: P.gateway,
    pids: [gw.pid!],
    ...(note ? { note } : {}),
    stop: async () => {
      await stopChild(gw);
      await stopChild(control);
    },
  };
}

interface Sample {
  rps: Record<number, number>;
  p50: Record<number, number>;
  p99: Record<number, number>;
  cpuPer1k: Record<number, number>;
  rss: number;
  /** Per process (Running.parts): CPU ms per 1k requests at each conns, RSS MB after the run. */
  parts: Record<string, { cpuPer1k: Record<number, number>; rss: number }>;
  /** Requests wrk sent in all (warm-up included). */
  sent: number;
}

async function measure(r: Running, seconds: number, conns: number[]): Promise<Sample> {
  const url = r.url ?? `http://127.0.0.1:${r.port}/`;
  const o = r.ns ? { ns: r.ns } : {};
  const parts = r.parts ?? [];
  const warm = await wrk(url, 16, 1, o); // warm-up (JIT, pools)
  const s: Sample = { rps: {}, p50: {}, p99: {}, cpuPer1k: {}, rss: NaN, parts: Object.fromEntries(parts.map((p) => [p.name, { cpuPer1k: {}, rss: NaN }])), sent: warm.requests };
  for (const c of conns) {
    const before = r.pids.length ? await cpuMs(r.pids) : 0;
    const beforeEach = await Promise.all(parts.map((p) => cpuMs([p.pid])));
    const w = await wrk(url, c, seconds, o);
    const used = r.pids.length ? (await cpuMs(r.pids)) - before : NaN;
    const usedEach = await Promise.all(parts.map(async (p, i) => (await cpuMs([p.pid])) - beforeEach[i]!));
    s.rps[c] = w.rps;
    s.p50[c] = w.p50us;
    s.p99[c] = w.p99us;
    s.cpuPer1k[c] = used / (w.requests / 1000);
    parts.forEach((p, i) => (s.parts[p.name]!.cpuPer1k[c] = usedEach[i]! / (w.requests / 1000)));
    s.sent += w.requests;
    if (w.errors || w.non2xx) process.stderr.write(`  ${r.name} c=${c}: ${w.errors} socket errors, ${w.non2xx} non-2xx\n`);
  }
  s.rss = r.pids.length ? await rssMb(r.pids) : NaN;
  (await rssMbEach(parts.map((p) => p.pid))).forEach((mb, i) => (s.parts[parts[i]!.name]!.rss = mb));
  return s;
}

async function main(): Promise<void> {
  const repeats = Number(opt('repeats', '3'));
  const seconds = Number(opt('seconds', '5'));
  const conns = opt('conns', '1,16,64').split(',').map(Number);
  const only = opt('only', 'direct,nginx,haproxy,engine,gateway,gateway-10r,waypoint,direct-netns').split(',');
  // what dist/weft (the launcher users run) gives `weft node`; the bench starts weft.mjs directly
  const nodeFlags = opt('node-flags', '--max-semi-space-size=1 --v8-pool-size=1').split(' ').filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'weft-l7-bench-'));
  const notes = new Set<string>();
  const checks: string[] = [];
  let origin: Running | undefined;
  let mesh: MeshSide | undefined;
  let current: Running | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await current?.stop().catch(() => {});
      await mesh?.destroy(); // its processes, then its namespaces (their iptables rules with them)
      await origin?.stop();
      rmSync(dir, { recursive: true, force: true });
    })());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up (processes${mesh ? ', namespaces, iptables' : ''})\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    if (!existsSync(WEFT)) throw new Error(`${WEFT} is missing: npm run build (or WEFT_DIST=DIR node build.mjs)`);
    origin = await startNginx('origin', join(dir, 'origin'), P.origin, originServer(`127.0.0.1:${P.origin}`));
    const contenders = new Map<string, () => Promise<Running>>([
      ['direct', async () => ({ name: 'direct', port: P.origin, pids: [], stop: async () => {} })],
      [
        'nginx',
        () =>
          startNginx(
            'nginx',
            join(dir, 'nginx'),
            P.nginx,
            `upstream origin { server 127.0.0.1:${P.origin}; keepalive 128; }
  server { listen 127.0.0.1:${P.nginx}; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; } }`,
          ),
      ],
      ['haproxy', () => startHaproxy(join(dir, 'haproxy'))],
      ['engine', () => startEngine()],
      ['gateway', () => startGateway(mkdtempSync(join(dir, 'gw-')), false)],
      ['gateway-10r', () => startGateway(mkdtempSync(join(dir, 'gw10-')), true)],
      ...MESH_CONTENDERS.map((n) => [n, () => mesh!.start(n)] as [string, () => Promise<Running>]),
    ]);
    for (const n of only) if (!contenders.has(n)) throw new Error(`--only: no contender ${n} (${[...contenders.keys()].join(', ')})`);
    let names = [...contenders.keys()].filter((n) => only.includes(n));
    const meshNames = names.filter((n) => (MESH_CONTENDERS as readonly string[]).includes(n));
    if (meshNames.length) {
      const why = meshUnsupportedReason();
      if (why) {
        console.log(`skipped: ${meshNames.join(', ')}: they run in a network-namespace topology, not possible here: ${why}`);
        names = names.filter((n) => !meshNames.includes(n));
      } else {
        mesh = await createMeshSide(join(dir, 'mesh'), nodeFlags);
      }
    }
    const results = new Map<string, Sample[]>(names.map((n) => [n, []]));
    for (let rep = 0; rep < repeats; rep++) {
      const order = names.slice(rep % names.length).concat(names.slice(0, rep % names.length));
      for (const name of order) {
        const r = await contenders.get(name)!();
        current = r;
        if (r.note) notes.add(`${name}: ${r.note}`);
        try {
          process.stderr.write(`repeat ${rep + 1}/${repeats}: ${name}\n`);
          const sample = await measure(r, seconds, conns);
          results.get(name)!.push(sample);
          if (r.check) checks.push(`repeat ${rep + 1}, ${await r.check(sample.sent)}`);
        } finally {
          current = undefined;
          await r.stop();
        }
      }
    }
    console.log(table(results, conns));
    const parts = partsTable(results, conns);
    if (parts) console.log(`\n${parts}`);
    for (const n of notes) console.log(`\n${n}`);
    for (const c of checks) console.log(c);
    const top = conns[conns.length - 1]!;
    const spread = (xs: number[]): string => {
      const m = median(xs);
      return m ? `${(((Math.max(...xs) - Math.min(...xs)) / m) * 100).toFixed(0)}%` : '-';
    };
    console.log(`\nnoise (spread of req/s at ${top} conns across repeats): ${[...results].map(([n, ss]) => `${n} ${spread(ss.map((s) => s.rps[top]!))}`).join(', ')}`);
  } finally {
    await cleanup();
  }
}

/** The processes of contenders with parts (the waypoint's node1, waypoint, node2), one row each, and their sum. */
function partsTable(results: Map<string, Sample[]>, conns: number[]): string | undefined {
  const out: string[] = [];
  const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');
  for (const [name, samples] of results) {
    const parts = Object.keys(samples[0]?.parts ?? {});
    if (!parts.length) continue;
    out.push(`${name}, per process (medians):`, '', `| process | ${conns.map((c) => `CPU ms / 1k req, ${c} conn`).join(' | ')} | RSS MB after the run |`, `| --- | ${conns.map(() => '---:').join(' | ')} | ---: |`);
    for (const p of parts) out.push(`| ${p} | ${conns.map((c) => f1(median(samples.map((s) => s.parts[p]!.cpuPer1k[c]!)))).join(' | ')} | ${f1(median(samples.map((s) => s.parts[p]!.rss)))} |`);
    out.push(`| sum | ${conns.map((c) => f1(median(samples.map((s) => s.cpuPer1k[c]!)))).join(' | ')} | ${f1(median(samples.map((s) => s.rss)))} |`);
  }
  return out.length ? out.join('\n') : undefined;
}

function table(results: Map<string, Sample[]>, conns: number[]): string {
  const med = (name: string, get: (s: Sample) => number): number => median((results.get(name) ?? []).map(get));
  const names = [...results.keys()];
  const k = (v: number): string => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)}k` : '-');
  const f0 = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '-');
  const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');
  const rows: { label: string; get: (s: Sample) => number; sub?: (name: string) => number; fmt: (v: number) => string; proxyOnly?: boolean }[] = [];
  for (const c of conns) rows.push({ label: `req/s, ${c} conn`, get: (s) => s.rps[c]!, fmt: k });
  for (const c of conns) rows.push({ label: `p50 us, ${c} conn`, get: (s) => s.p50[c]!, fmt: f0 });
  for (const c of conns) rows.push({ label: `p99 us, ${c} conn`, get: (s) => s.p99[c]!, fmt: f0 });
  const direct1 = med('direct', (s) => s.p50[conns[0]!]!);
  // the mesh contenders cross veths, a bridge and two nodes' forwarding even without a proxy: their
  // added latency is over direct-netns (the same topology, no proxy) when it ran
  const netns = results.has('direct-netns');
  const base1 = (n: string): number => (netns && n === 'waypoint' ? med('direct-netns', (s) => s.p50[conns[0]!]!) : direct1);
  rows.push({ label: `p50 added over direct, ${conns[0]} conn (us${netns ? '; waypoint: over direct-netns' : ''})`, get: (s) => s.p50[conns[0]!]!, sub: base1, fmt: f0, proxyOnly: true });
  for (const c of conns) rows.push({ label: `CPU ms / 1k req, ${c} conn`, get: (s) => s.cpuPer1k[c]!, fmt: f1, proxyOnly: true });
  rows.push({ label: 'RSS MB after the run', get: (s) => s.rss, fmt: f1, proxyOnly: true });
  const weftNames = names.filter((n) => n === 'engine' || n.startsWith('gateway') || n === 'waypoint');
  const baseline = (n: string): boolean => n === 'direct' || n === 'direct-netns';
  const medOf = (n: string, r: (typeof rows)[number]): number => med(n, r.get) - (r.sub ? r.sub(n) : 0);
  const cols = (xs: string[]): string => xs.map((x) => ` ${x} |`).join('');
  const out = [`| metric |${cols(names)}${cols(weftNames.map((n) => `${n} / nginx`))}`, `| --- |${cols(names.map(() => '---:'))}${cols(weftNames.map(() => '---:'))}`];
  for (const r of rows) {
    const cells = names.map((n) => (r.proxyOnly && baseline(n) ? '' : r.fmt(medOf(n, r))));
    const ng = medOf('nginx', r);
    const ratios = weftNames.map((n) => {
      const w = medOf(n, r);
      return Number.isFinite(w) && Number.isFinite(ng) && ng ? `${(w / ng).toFixed(2)}x` : '-';
    });
    out.push(`| ${r.label} |${cols(cells)}${cols(ratios)}`);
  }
  const top = conns[conns.length - 1]!;
  const goal = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  if (results.has('gateway') && results.has('nginx')) {
    const rpsRatio = med('gateway', (s) => s.rps[top]!) / med('nginx', (s) => s.rps[top]!);
    const cpuRatio = med('gateway', (s) => s.cpuPer1k[top]!) / med('nginx', (s) => s.cpuPer1k[top]!);
    const addW = med('gateway', (s) => s.p50[conns[0]!]!) - direct1;
    const addN = med('nginx', (s) => s.p50[conns[0]!]!) - direct1;
    out.push('');
    out.push(`goals (gateway): req/s at ${top} conns ${rpsRatio.toFixed(2)}x nginx (>= 0.5: ${goal(rpsRatio >= 0.5)}); CPU/1k at ${top} conns ${cpuRatio.toFixed(2)}x (<= 2.5: ${goal(cpuRatio <= 2.5)}); added p50 at ${conns[0]} conn ${(addW / addN).toFixed(2)}x (<= 2: ${goal(addW / addN <= 2)})`);
    if (results.has('gateway-10r')) {
      const drop = 1 - med('gateway-10r', (s) => s.rps[top]!) / med('gateway', (s) => s.rps[top]!);
      out.push(`ten routes + an authorization policy: req/s at ${top} conns ${(drop * 100).toFixed(1)}% below one route (< 10%: ${goal(drop < 0.1)})`);
    }
  }
  return out.join('\n');
}

if (opt('role', '') === 'engine') void runEngineRole();
else
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
