/**
 * `weft node` memory and CPU on loopback, no namespaces or root needed: `weft control` plus two
 * `weft node --capture none` (node-a 127.0.4.2 with the client workload, node-b 127.0.4.3 with the
 * backend), a backend answering each request with a 612-byte HTTP response (nginx's default page
 * size), and a paced load of SOCKS5 connections through node-a's 15080 (each request crosses
 * node-a -> HBONE mTLS -> node-b -> backend). Reports per node proxy: VmRSS idle (after ready and
 * a settle time), VmRSS peak and at the end of a paced run (default 10 connections x 10 ms = ~1k
 * req/s), and CPU (utime+stime from /proc) per 1,000 requests, both hops. Median over --repeats.
 *
 *   npm run build && node test/bench/run.mjs node-memory [--repeats 3] [--seconds 10] [--conns 10] [--gap-ms 10]
 *       [--node-flags '--max-semi-space-size=1']   (V8 flags for the weft node processes)
 *       [--env KEY=V]                              (extra environment for the weft node processes)
 *       [--weft dist/weft.mjs]                     (the bundle to run)
 *       [--private-node]                           (each weft node on its own copy of the node executable)
 *
 * --private-node: weft node pages out the read-only file mappings no other process maps
 * (hosts/node/capture/memory-release.ts); here the control plane, both node proxies and this bench
 * are node processes of one executable, so the pages they share stay. A copy per node proxy is what
 * a real node has: one node proxy per machine, no other process mapping its executable.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const WEFT = resolve(process.argv.includes('--weft') ? process.argv[process.argv.indexOf('--weft') + 1]! : 'dist/weft.mjs');
const NS = 'mem';
const A_IP = '127.0.4.2';
const B_IP = '127.0.4.3';
const PORT = 18290;
const RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 612\r\n\r\n${'x'.repeat(612)}`);
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: backend\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n');

const argv = process.argv.slice(2);
const opt = (name: string, d: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : d;
};
const repeats = Number(opt('repeats', '3'));
const seconds = Number(opt('seconds', '10'));
const conns = Number(opt('conns', '10'));
const gapMs = Number(opt('gap-ms', '10'));
const nodeFlags = opt('node-flags', '').split(' ').filter(Boolean);
const extraEnv = Object.fromEntries(argv.flatMap((a, i) => (a === '--env' ? [argv[i + 1]!.split('=', 2) as [string, string]] : [])));

const MESH = `apiVersion: v1
kind: Namespace
metadata: { name: ${NS}, labels: { istio.io/dataplane-mode: ambient } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: client, namespace: ${NS}, labels: { app: client, weft.io/node: node-a } }
spec: { address: ${A_IP}, serviceAccount: client, labels: { app: client } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: backend, namespace: ${NS}, labels: { app: backend, weft.io/node: node-b } }
spec: { address: ${B_IP}, serviceAccount: backend, labels: { app: backend } }
`;

const children: ChildProcess[] = [];
function start(args: string[], flags: string[] = [], env: Record<string, string> = {}, exe = process.execPath): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(exe, [...flags, WEFT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => {
    if (out.length < 100_000) out += d;
  });
  child.stderr!.on('data', (d) => {
    if (out.length < 100_000) out += d;
  });
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`did not start: ${out}`)), 30_000);
    const check = () => {
      if (/ready\s+http:\/\/|HTTP\s+http:\/\//.test(out)) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        res({ child, out: () => out });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (c) => rej(new Error(`exited ${c}: ${out}`)));
  });
}

const stat = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime+stime in ms (USER_HZ 100)
};
const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ready(host: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    try {
      if ((await fetch(`http://${host}:15021/healthz/ready`)).status === 200) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${host} not ready`);
}

function socks(): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = connect({ host: A_IP, port: 15080, localAddress: A_IP, noDelay: true });
    let buf = Buffer.alloc(0);
    s.once('error', rej);
    s.on('connect', () => s.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, ...B_IP.split('.').map(Number), PORT >> 8, PORT & 255])));
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 12) return;
      s.off('data', onData);
      if (buf[3] !== 0) return rej(new Error(`SOCKS reply ${buf[3]}`));
      res(s);
    };
    s.on('data', onData);
  });
}

/** `conns` connections, each: request, wait for the whole response, wait gapMs, repeat. */
async function pacedLoad(ms: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: conns }, socks));
  let done = 0;
  const end = Date.now() + ms;
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((res) => {
          let got = 0;
          const next = () => {
            if (Date.now() >= end) return res();
            got = 0;
            s.write(REQUEST);
          };
          s.on('data', (d: Buffer) => {
            got += d.length;
            if (got >= RESPONSE.length) {
              done++;
              setTimeout(next, gapMs);
            }
          });
          next();
        }),
    ),
  );
  for (const s of sockets) s.destroy();
  return done;
}

interface Sample {
  idle: number[];
  peak: number[];
  endRss: number[];
  rps: number;
  cpuPer1k: number;
  idleAfter: number[];
}

/** --private-node: a copy of the node executable for one node proxy, else the shared one */
function privateExe(dir: string, name: string): string {
  if (!argv.includes('--private-node')) return process.execPath;
  const exe = join(dir, `node-${name}`);
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  return exe;
}

async function once(dir: string): Promise<Sample> {
  const state = join(dir, 'state');
  mkdirSync(join(dir, 'config'), { recursive: true });
  writeFileSync(join(dir, 'config', 'mesh.yaml'), MESH);
  const cp = await start(['control', '--config', join(dir, 'config'), '--state', state, '--listen', '127.0.0.1', '--xds-port', '0', '--secure-port', '0', '--http-port', '0']);
  const secure = /xDS \+ CA \(TLS\)\s+(\S+)/.exec(cp.out())![1]!;
  const node = (name: string, ip: string) => {
    const token = spawnSync(process.execPath, [WEFT, 'token', 'create', '--node', name, '--state', state], { encoding: 'utf8' }).stdout.trim();
    return start(['node', '--control', secure, '--root-cert', join(state, 'root-cert.pem'), '--token', token, '--node-name', name, '--listen', ip, '--capture', 'none', '--access-log', '/dev/null'], nodeFlags, extraEnv, privateExe(dir, name));
  };
  const [a, b] = await Promise.all([node('node-a', A_IP), node('node-b', B_IP)]);
  await Promise.all([ready(A_IP), ready(B_IP)]);
  const pids = [a.child.pid!, b.child.pid!];
  // one warm-up exchange (certificates, HBONE connection), then settle
  await pacedLoad(300);
  await sleep(3000);
  const idle = pids.map(rss);
  const cpu0 = pids.map(stat);
  let peak = [0, 0];
  const sampler = setInterval(() => (peak = pids.map((p, i) => Math.max(peak[i]!, rss(p)))), 200);
  const t0 = Date.now();
  const n = await pacedLoad(seconds * 1000);
  const elapsed = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  const endRss = pids.map(rss);
  const cpu = pids.map(stat).reduce((s, c, i) => s + c - cpu0[i]!, 0);
  await sleep(3000);
  const idleAfter = pids.map(rss);
  for (const c of [a.child, b.child, cp.child]) c.kill('SIGKILL');
  return { idle, peak, endRss, rps: n / elapsed, cpuPer1k: (cpu / n) * 1000, idleAfter };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const f1 = (x: number) => x.toFixed(1);

const backend: Server = createServer({ noDelay: true }, (s) => {
  s.on('error', () => {});
  let pending = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    pending = Buffer.concat([pending, d]);
    for (let i = pending.indexOf('\r\n\r\n'); i >= 0; i = pending.indexOf('\r\n\r\n')) {
      pending = pending.subarray(i + 4);
      s.write(RESPONSE);
    }
  });
});
await new Promise<void>((r) => backend.listen(PORT, B_IP, r));
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => (cleanup(), process.exit(130)));

const samples: Sample[] = [];
try {
  for (let r = 0; r < repeats; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'weft-node-mem-'));
    try {
      const s = await once(dir);
      samples.push(s);
      console.error(`repeat ${r + 1}: idle ${s.idle.map(f1)} MB, peak ${s.peak.map(f1)} MB, end ${s.endRss.map(f1)} MB, idle after ${s.idleAfter.map(f1)} MB, ${s.rps.toFixed(0)} req/s, ${s.cpuPer1k.toFixed(1)} CPU ms/1k`);
    } finally {
      cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  backend.close();
}
const row = (name: string, pick: (s: Sample) => number) => console.log(`| ${name} | ${f1(median(samples.map(pick)))} |`);
console.log(`\n## weft node memory on loopback (${repeats} x ${seconds} s, ${conns} conns x ${gapMs} ms gap${nodeFlags.length ? `, flags ${nodeFlags.join(' ')}` : ''}${Object.keys(extraEnv).length ? `, env ${JSON.stringify(extraEnv)}` : ''}${argv.includes('--private-node') ? ', each node proxy on a private copy of node' : ''})\n`);
console.log('| metric (median) | value |\n| --- | ---: |');
row('RSS idle MB, node-a (source)', (s) => s.idle[0]!);
row('RSS idle MB, node-b (destination)', (s) => s.idle[1]!);
row('RSS peak MB under load, larger node', (s) => Math.max(...s.peak));
row('RSS at end of load MB, larger node', (s) => Math.max(...s.endRss));
row('RSS idle 3 s after load MB, larger node', (s) => Math.max(...s.idleAfter));
row('req/s', (s) => s.rps);
row('CPU ms / 1k req (both hops)', (s) => s.cpuPer1k);
