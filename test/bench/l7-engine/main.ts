/**
 * The L7 engine benchmark (issue 4): the engine with the forward-all handler (hosts/node/l7) vs
 * nginx (`proxy_pass` with upstream keepalive, one worker) vs direct, all in front of one nginx
 * origin answering a 20-byte body, on loopback. wrk -t1 at 1 and 64 connections, contenders
 * alternating within each repeat (order rotated), medians over the repeats: req/s, p50/p99, the
 * proxy's CPU ms per 1,000 requests (utime+stime from /proc), ratios to nginx, and the latency each
 * proxy adds over direct at 1 connection.
 *
 * Usage: node test/bench/run.mjs l7-engine [--repeats 3] [--seconds 5] [--conns 1,64] [--only direct,nginx,weft]
 *        [--node-flags '--cpu-prof --cpu-prof-dir=.tmp/prof']
 * Needs nginx and wrk (apt-get install -y nginx wrk). The same bundle runs the engine: `--role weft`.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ForwardAllHandler } from '../../../hosts/node/l7/forward-all-handler.ts';
import { L7Server } from '../../../hosts/node/l7/server.ts';
import { Http1Endpoint, tcpDial } from '../../../hosts/node/l7/upstream-pool.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};

const ORIGIN_PORT = 18180;
const NGINX_PORT = 18181;
const WEFT_PORT = 18182;
const TICK_MS = 10;

async function runWeftRole(): Promise<void> {
  const upstream = Number(opt('upstream', String(ORIGIN_PORT)));
  const port = Number(opt('port', String(WEFT_PORT)));
  const endpoint = new Http1Endpoint(`127.0.0.1:${upstream}`, tcpDial('127.0.0.1', upstream));
  const server = new L7Server(new ForwardAllHandler(endpoint));
  await server.listen(port, '127.0.0.1');
  process.stdout.write('ready\n');
  const stop = async (): Promise<void> => {
    await server.close(100);
    endpoint.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

interface WrkResult {
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

async function wrk(url: string, connections: number, seconds: number): Promise<WrkResult> {
  const out = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s', url], (seconds + 30) * 1000);
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

async function cpuMs(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * TICK_MS;
}

function waitPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tryOnce = (): void => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} not listening`));
        else setTimeout(tryOnce, 50);
      });
    };
    tryOnce();
  });
}

function nginxConf(dir: string, body: string): string {
  const t = join(dir, 'tmp');
  mkdirSync(t, { recursive: true });
  return `user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${t}/body; proxy_temp_path ${t}/proxy; fastcgi_temp_path ${t}/fcgi; uwsgi_temp_path ${t}/uwsgi; scgi_temp_path ${t}/scgi;
  keepalive_requests 1000000;
  ${body}
}
`;
}

interface Running {
  name: string;
  port: number;
  pids: number[];
  child?: ChildProcess;
  stop(): Promise<void>;
}

async function startNginx(name: string, dir: string, port: number, server: string): Promise<Running> {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, server));
  const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`${name}: ${d}`));
  await waitPort(port);
  // master + its worker
  const kids = (await run('ps', ['-o', 'pid=', '--ppid', String(child.pid)], 5000)).split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  return {
    name,
    port,
    pids: [child.pid!, ...kids],
    child,
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

async function startWeft(nodeFlags: string[]): Promise<Running> {
  const child = spawn(process.execPath, [...nodeFlags, process.argv[1]!, '--role', 'weft', '--port', String(WEFT_PORT), '--upstream', String(ORIGIN_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (c) => reject(new Error(`weft exited with ${c}`)));
  });
  return { name: 'weft', port: WEFT_PORT, pids: [child.pid!], child, stop: () => stopChild(child) };
}

interface Sample {
  rps: Record<number, number>;
  p50: Record<number, number>;
  p99: Record<number, number>;
  cpuPer1k: Record<number, number>;
}

const median = (xs: number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function measure(r: Running, seconds: number, conns: number[]): Promise<Sample> {
  const url = `http://127.0.0.1:${r.port}/`;
  await wrk(url, 16, 1); // warm-up (JIT, pools)
  const s: Sample = { rps: {}, p50: {}, p99: {}, cpuPer1k: {} };
  for (const c of conns) {
    const before = r.pids.length ? await cpuMs(r.pids) : 0;
    const w = await wrk(url, c, seconds);
    const used = r.pids.length ? (await cpuMs(r.pids)) - before : NaN;
    s.rps[c] = w.rps;
    s.p50[c] = w.p50us;
    s.p99[c] = w.p99us;
    s.cpuPer1k[c] = used / (w.requests / 1000);
    if (w.errors || w.non2xx) process.stderr.write(`  ${r.name} c=${c}: ${w.errors} socket errors, ${w.non2xx} non-2xx\n`);
  }
  return s;
}

async function main(): Promise<void> {
  const repeats = Number(opt('repeats', '3'));
  const seconds = Number(opt('seconds', '5'));
  const conns = opt('conns', '1,64').split(',').map(Number);
  const only = opt('only', 'direct,nginx,weft').split(',');
  const nodeFlags = opt('node-flags', '').split(' ').filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'weft-l7-bench-'));
  const running: Running[] = [];
  try {
    const origin = await startNginx('origin', join(dir, 'origin'), ORIGIN_PORT, `server { listen 127.0.0.1:${ORIGIN_PORT}; location / { return 200 '0123456789abcdefghij'; } }`);
    running.push(origin);
    const contenders = new Map<string, () => Promise<Running>>();
    contenders.set('direct', async () => ({ name: 'direct', port: ORIGIN_PORT, pids: [], stop: async () => {} }));
    contenders.set('nginx', () =>
      startNginx(
        'nginx',
        join(dir, 'proxy'),
        NGINX_PORT,
        `upstream origin { server 127.0.0.1:${ORIGIN_PORT}; keepalive 128; }
  server { listen 127.0.0.1:${NGINX_PORT}; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; } }`,
      ),
    );
    contenders.set('weft', () => startWeft(nodeFlags));
    const names = [...contenders.keys()].filter((n) => only.includes(n));
    const results = new Map<string, Sample[]>(names.map((n) => [n, []]));
    for (let rep = 0; rep < repeats; rep++) {
      const order = names.slice(rep % names.length).concat(names.slice(0, rep % names.length));
      for (const name of order) {
        const r = await contenders.get(name)!();
        try {
          process.stderr.write(`repeat ${rep + 1}/${repeats}: ${name}\n`);
          results.get(name)!.push(await measure(r, seconds, conns));
        } finally {
          await r.stop();
        }
      }
    }
    console.log(table(results, conns));
    const spread = (xs: number[]): string => {
      const m = median(xs);
      return m ? `${(((Math.max(...xs) - Math.min(...xs)) / m) * 100).toFixed(0)}%` : '-';
    };
    const top = conns[conns.length - 1]!;
    console.log(`\nnoise (spread of req/s at ${top} conns across repeats): ${[...results].map(([n, ss]) => `${n} ${spread(ss.map((s) => s.rps[top]!))}`).join(', ')}`);
  } finally {
    for (const r of running) await r.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(results: Map<string, Sample[]>, conns: number[]): string {
  const med = (name: string, get: (s: Sample) => number): number => median((results.get(name) ?? []).map(get));
  const names = [...results.keys()];
  const k = (v: number): string => (Number.isFinite(v) ? `${(v / 1000).toFixed(2)}k` : '-');
  const f0 = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '-');
  const f1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '-');
  const rows: { label: string; get: (s: Sample) => number; fmt: (v: number) => string; proxyOnly?: boolean }[] = [];
  for (const c of conns) rows.push({ label: `req/s, ${c} conn`, get: (s) => s.rps[c]!, fmt: k });
  for (const c of conns) rows.push({ label: `p50 us, ${c} conn`, get: (s) => s.p50[c]!, fmt: f0 });
  for (const c of conns) rows.push({ label: `p99 us, ${c} conn`, get: (s) => s.p99[c]!, fmt: f0 });
  const direct1 = med('direct', (s) => s.p50[conns[0]!]!);
  rows.push({ label: `p50 added over direct, ${conns[0]} conn (us)`, get: (s) => s.p50[conns[0]!]! - direct1, fmt: f0, proxyOnly: true });
  for (const c of conns) rows.push({ label: `CPU ms / 1k req, ${c} conn`, get: (s) => s.cpuPer1k[c]!, fmt: f1, proxyOnly: true });
  const out = [`| metric | ${names.join(' | ')} | weft / nginx |`, `| --- | ${names.map(() => '---:').join(' | ')} | ---: |`];
  for (const r of rows) {
    const cells = names.map((n) => (r.proxyOnly && n === 'direct' ? '' : r.fmt(med(n, r.get))));
    const w = med('weft', r.get);
    const ng = med('nginx', r.get);
    const ratio = Number.isFinite(w) && Number.isFinite(ng) && ng ? `${(w / ng).toFixed(2)}x` : '-';
    out.push(`| ${r.label} | ${cells.join(' | ')} | ${ratio} |`);
  }
  const top = conns[conns.length - 1]!;
  const goal = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  if (results.has('weft') && results.has('nginx')) {
    const rpsRatio = med('weft', (s) => s.rps[top]!) / med('nginx', (s) => s.rps[top]!);
    const cpuRatio = med('weft', (s) => s.cpuPer1k[top]!) / med('nginx', (s) => s.cpuPer1k[top]!);
    const addW = med('weft', (s) => s.p50[conns[0]!]!) - direct1;
    const addN = med('nginx', (s) => s.p50[conns[0]!]!) - direct1;
    out.push('');
    out.push(`goals: req/s at ${top} conns ${rpsRatio.toFixed(2)}x nginx (>= 0.5: ${goal(rpsRatio >= 0.5)}); CPU/1k at ${top} conns ${cpuRatio.toFixed(2)}x (<= 2.5: ${goal(cpuRatio <= 2.5)}); added p50 at ${conns[0]} conn ${(addW / addN).toFixed(2)}x (<= 2: ${goal(addW / addN <= 2)})`);
  }
  return out.join('\n');
}

if (opt('role', '') === 'weft') void runWeftRole();
else
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
