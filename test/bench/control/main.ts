/**
 * Control-plane benchmark (issue 2): push latency from a file change to every connected client
 * ACKed, for 100, 1,000 and 10,000 endpoints with 10 and 100 connected clients; a full push of
 * everything (all clients reconnecting); certificates signed per second; control-plane RSS.
 *
 * The control plane is the real bundle (`dist/weft.mjs control`) in its own process; the clients are
 * Weft's delta ADS clients, all in this process, watching the workload API by wildcard.
 * Run: npm run build && node test/bench/run.mjs control [--sizes 100,1000,10000] [--clients 10,100] [--repeat 5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeltaXdsClient } from '../../../hosts/node/xds/delta-client.ts';
import { TYPE_URL } from '../../../core/xds/type-urls.ts';
import { caSignRate } from './ca-sign-rate.ts';
import { benchMesh, SERVICE_SIZE } from './mesh-files.ts';

const args = parseArgs(process.argv.slice(2));
const sizes = (args.sizes ?? '100,1000,10000').split(',').map(Number);
const clientCounts = (args.clients ?? '10,100').split(',').map(Number);
const repeat = Number(args.repeat ?? 5);

interface Row {
  endpoints: number;
  clients: number;
  changeMs: number[];
  fullMs: number[];
  /** CPU time of the control plane (its whole process) and of this process (the clients) during each full push. */
  fullServerCpuMs: number[];
  fullClientCpuMs: number[];
  rssConfigMb: number;
  rssIdleMb: number;
  rssPeakMb: number;
}

const rows: Row[] = [];
for (const endpoints of sizes) {
  for (const clients of clientCounts) rows.push(await runCase(endpoints, clients));
}
const sign = caSignRate();

console.log('\n## Control plane: push latency (file write -> last client ACKed), medians of', repeat);
console.log('The clients all run in this one process: a full push is bounded by their CPU, so the CPU time of the control plane');
console.log('(server) and of the clients during it are shown beside its wall time. The change includes the 100 ms file debounce and');
console.log('the 100 ms push debounce. RSS of the control plane: with its config loaded and no client, idle with the clients');
console.log('connected, and its peak.\n');
console.log('| endpoints | clients | one service changed: p50 ms | max ms | full push (all reconnect): p50 ms | max ms | full push CPU: server ms | clients ms | RSS config MB | RSS idle MB | RSS peak MB |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.endpoints} | ${r.clients} | ${median(r.changeMs).toFixed(0)} | ${Math.max(...r.changeMs).toFixed(0)} | ${median(r.fullMs).toFixed(0)} | ${Math.max(...r.fullMs).toFixed(0)} | ${median(r.fullServerCpuMs).toFixed(0)} | ${median(r.fullClientCpuMs).toFixed(0)} | ${r.rssConfigMb.toFixed(0)} | ${r.rssIdleMb.toFixed(0)} | ${r.rssPeakMb.toFixed(0)} |`);
}
console.log('\n## Certificate authority, one core\n');
console.log(sign.table);
process.exit(0);

async function runCase(endpoints: number, clients: number): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-control-'));
  const configDir = join(dir, 'config');
  const mesh = benchMesh(endpoints);
  await mesh.write(configDir);
  const cp = await startControl(configDir, join(dir, 'state'));
  const expected = mesh.resourceCount;
  const row: Row = { endpoints, clients, changeMs: [], fullMs: [], fullServerCpuMs: [], fullClientCpuMs: [], rssConfigMb: 0, rssIdleMb: 0, rssPeakMb: 0 };
  try {
    row.rssConfigMb = await rssMb(cp.child.pid!, 'VmRSS');
    let fleet = await connectFleet(cp.xdsAddress, clients, expected);
    row.rssIdleMb = await rssMb(cp.child.pid!, 'VmRSS');
    for (let i = 0; i < repeat; i++) {
      // one service's endpoints change: an endpoint of svc-0 moves to a new address
      const target = mesh.endpointName(0, i % SERVICE_SIZE);
      const done = Promise.all(fleet.map((c) => ackOf(c, target)));
      const t0 = performance.now();
      await mesh.moveEndpoint(configDir, 0, i % SERVICE_SIZE, i + 1);
      await done;
      row.changeMs.push(performance.now() - t0);
    }
    for (let i = 0; i < repeat; i++) {
      for (const c of fleet) c.close();
      fleet = [];
      (globalThis as { gc?: () => void }).gc?.();
      const server0 = await cpuMs(cp.child.pid!);
      const client0 = process.cpuUsage();
      const t0 = performance.now();
      fleet = await connectFleet(cp.xdsAddress, clients, expected);
      row.fullMs.push(performance.now() - t0);
      const client = process.cpuUsage(client0);
      row.fullClientCpuMs.push((client.user + client.system) / 1000);
      row.fullServerCpuMs.push((await cpuMs(cp.child.pid!)) - server0);
    }
    row.rssPeakMb = await rssMb(cp.child.pid!, 'VmHWM');
    for (const c of fleet) c.close();
  } finally {
    cp.child.kill('SIGTERM');
    await new Promise((r) => cp.child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  }
  console.error(`endpoints=${endpoints} clients=${clients}: change p50 ${median(row.changeMs).toFixed(0)} ms, full p50 ${median(row.fullMs).toFixed(0)} ms (CPU: server ${median(row.fullServerCpuMs).toFixed(0)} ms, clients ${median(row.fullClientCpuMs).toFixed(0)} ms)`);
  return row;
}

/** Resolves when the client has ACKed a response that carried the resource named by `suffix`. */
function ackOf(client: DeltaXdsClient, suffix: string): Promise<void> {
  return new Promise((resolve) => {
    let nonce = '';
    const onUpdate = (u: { nonce: string; resources: { name: string }[] }) => {
      if (u.resources.some((r) => r.name.endsWith(suffix))) nonce = u.nonce;
    };
    const onAck = (a: { nonce: string }) => {
      if (nonce && a.nonce === nonce) {
        client.off('update', onUpdate);
        client.off('ack', onAck);
        resolve();
      }
    };
    client.on('update', onUpdate);
    client.on('ack', onAck);
  });
}

/** Connects `n` clients at once; resolves when every one holds `expected` resources and has ACKed. */
async function connectFleet(address: string, n: number, expected: number): Promise<DeltaXdsClient[]> {
  const fleet = Array.from({ length: n }, (_, i) => new DeltaXdsClient({
    address,
    node: { id: `bench~10.0.0.${i % 250}~client-${i}.bench~bench.svc.cluster.local` },
    subscriptions: [{ typeUrl: TYPE_URL.address }, { typeUrl: TYPE_URL.authorization }],
    decode: false,
  }));
  await Promise.all(fleet.map((c) => new Promise<void>((resolve) => {
    const check = () => {
      if (c.resources(TYPE_URL.address).size >= expected) {
        c.off('ack', check);
        resolve();
      }
    };
    c.on('ack', check);
    c.start();
  })));
  return fleet;
}

async function startControl(configDir: string, stateDir: string): Promise<{ child: ChildProcess; xdsAddress: string }> {
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  const child = spawn(process.execPath, [...nodeArgs, 'dist/weft.mjs', 'control', '--config', configDir, '--state', stateDir, '--listen', '127.0.0.1', '--xds-port', '0', '--secure-port', '0', '--http-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const xdsAddress = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /xDS \(plaintext\)\s+(\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`weft control exited ${code}: ${err}`)));
  });
  return { child, xdsAddress };
}

async function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** User + system CPU time of a process so far (/proc/<pid>/stat, in clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) if (argv[i]!.startsWith('--')) out[argv[i]!.slice(2)] = argv[++i] ?? '';
  return out;
}

