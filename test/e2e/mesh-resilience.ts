/**
 * Helpers for the resilience e2e tests (node-resilience.test.ts): a bounded loop of curl requests
 * from inside a pod (one process and one new connection per request, counted one by one), the
 * control plane SIGKILLed and started again on the same state directory and ports, the mesh's
 * MeshConfig (ConfigMap istio/istio-system, which `weft control` watches in its config directory), a
 * plain HTTP server outside the mesh registry, and reads of the live processes' debug endpoints.
 * Everything is spawned through the topology, so `topo.destroy()` stops it; every wait is bounded.
 */
import type { ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { run } from '../../hosts/node/capture/exec.ts';
import { WEFT_BIN } from '../support/weft-process.ts';
import { httpOk, socketOf, until, type RunningMesh } from './mesh-processes.ts';
import type { E2eNode, E2ePod, NetnsRef, Topology } from './topology.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function collect(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  return () => out;
}

export interface LoopResult {
  /** Requests made (each its own curl process, so its own TCP connection). */
  total: number;
  ok: number;
  /** One line per failed request: index, time since the start, curl's exit code and message or the body. */
  failures: string[];
  elapsedMs: number;
  /** The slowest request's time, curl's process start included. */
  slowestMs: number;
}

export interface CurlLoop {
  /** Requests that have succeeded so far. */
  ok(): number;
  /** Requests made so far (ended, ok or not). */
  total(): number;
  /** Ends the loop after the request in flight; resolves with the counts. */
  stop(): Promise<LoopResult>;
  /** Resolves when the loop ends by itself (its `maxMs`) or after stop(). */
  done: Promise<LoopResult>;
}

/**
 * `curl URL` from inside `where`, one request every `intervalMs` (after the previous one ended), until
 * stop() or `maxMs` (a hard bound, so a forgotten stop still ends). A request fails when curl exits
 * non-zero (each has `--max-time 8`: a stall is a failure too, a slow loaded machine is not) or `check(body)` says no.
 */
export function startCurlLoop(topo: Topology, where: NetnsRef, url: string, o: { intervalMs: number; maxMs: number; check: (body: string) => boolean }): CurlLoop {
  let stopped = false;
  let ok = 0;
  let total = 0;
  const failures: string[] = [];
  const started = Date.now();
  const done = (async (): Promise<LoopResult> => {
    let slowestMs = 0;
    while (!stopped && Date.now() - started < o.maxMs) {
      const i = total;
      const at = Date.now() - started;
      const r = await topo.exec(where, 'curl', ['-sS', '--max-time', '8', url], { timeoutMs: 12_000 }).catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
      slowestMs = Math.max(slowestMs, Date.now() - started - at);
      let good = r.code === 0;
      try {
        good &&= o.check(r.stdout);
      } catch {
        good = false;
      }
      total++;
      if (good) ok++;
      else failures.push(`#${i} at ${at} ms: curl exit ${r.code} ${r.stderr.trim()} ${r.stdout.slice(0, 200)}`.trimEnd());
      await sleep(o.intervalMs);
    }
    return { total, ok, failures, elapsedMs: Date.now() - started, slowestMs };
  })();
  return {
    ok: () => ok,
    total: () => total,
    stop: () => {
      stopped = true;
      return done;
    },
    done,
  };
}

/**
 * The arguments startMesh (mesh-processes.ts) gives `weft control`: the same config directory, state
 * directory (so the same CA root and token key) and listen address, hence the same ports.
 */
function controlArgs(topo: Topology, dir: string): string[] {
  return [WEFT_BIN, 'control', '--config', join(dir, 'config'), '--state', join(dir, 'state'), '--listen', topo.net.ip];
}

/** SIGKILLs the mesh's `weft control` and waits (bounded) until it has exited and its HTTP port is dead. */
export async function killControl(topo: Topology, mesh: RunningMesh): Promise<void> {
  const child = mesh.processes.get('control');
  if (!child) throw new Error('the mesh has no control process');
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.kill('SIGKILL');
    await Promise.race([exited, sleep(5000).then(() => Promise.reject(new Error('weft control did not exit within 5 s of SIGKILL')))]);
  }
  if (await httpOk(topo, topo.net, `${mesh.controlHttp}/ready`)) throw new Error('something still answers on the control plane port after SIGKILL');
}

/**
 * Starts `weft control` again exactly as startMesh did (same state directory and ports), records it in
 * mesh.processes and appends its output to mesh.output's `control`; resolves once /ready answers.
 */
export async function restartControl(topo: Topology, dir: string, mesh: RunningMesh): Promise<ChildProcess> {
  const before = mesh.output.get('control') ?? (() => '');
  const child = topo.spawn(topo.net, process.execPath, controlArgs(topo, dir));
  const out = collect(child);
  mesh.processes.set('control', child);
  mesh.output.set('control', () => `${before()}--- weft control restarted\n${out()}`);
  await until('the restarted weft control /ready', 20_000, () => httpOk(topo, topo.net, `${mesh.controlHttp}/ready`), () => mesh.output.get('control')!());
  return child;
}

/** `weft cni add` for several pods at once (cniAdd in mesh-processes.ts does one, synchronously). */
export async function cniAddAll(dir: string, pods: Array<{ pod: E2ePod; namespace: string }>): Promise<void> {
  await Promise.all(
    pods.map(async ({ pod, namespace }) => {
      const r = await run(process.execPath, [WEFT_BIN, 'cni', 'add', '--pod', `${namespace}/${pod.name}`, '--netns', pod.netnsPath, '--socket', socketOf(dir, pod.node), '--timeout', '10000'], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`weft cni add ${namespace}/${pod.name} failed: ${r.stderr}${r.stdout}`);
    }),
  );
}

/** GET a JSON document from inside the bridge namespace (the control plane's 15014, a node's admin). */
export async function getJson<T = unknown>(topo: Topology, url: string): Promise<T> {
  const r = await topo.exec(topo.net, 'curl', ['-sf', '--max-time', '2', url], { timeoutMs: 5000 });
  if (r.code !== 0) throw new Error(`GET ${url}: curl exit ${r.code} ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

/** Node names of the node proxies the control plane's /debug/syncz lists, with each one's connection time. */
export async function synced(topo: Topology, mesh: RunningMesh): Promise<Map<string, string>> {
  const entries = await getJson<Array<{ proxyType: string; connectedAt: string; caller?: { kind?: string; name?: string } }>>(topo, `${mesh.controlHttp}/debug/syncz`);
  return new Map(entries.filter((e) => e.caller?.kind === 'node' && e.caller.name).map((e) => [e.caller!.name!, e.connectedAt]));
}

export interface NodeDump {
  xds: { connected: boolean };
  mesh: { outboundPolicy?: string };
  certificates: Array<{ identity: string; serial?: string; chainPems?: string[] }>;
}

/** A node proxy's admin /config_dump (15000 on its node address). */
export const nodeDump = (topo: Topology, node: E2eNode): Promise<NodeDump> => getJson<NodeDump>(topo, `http://${node.ip}:15000/config_dump`);

/** The leaf serial a /config_dump certificate carries (or that its PEM does), upper-case hex. */
export function serialOf(c: { serial?: string; chainPems?: string[] }): string | undefined {
  if (c.serial) return c.serial.toUpperCase();
  const pem = c.chainPems?.[0];
  return pem ? new X509Certificate(pem).serialNumber.toUpperCase() : undefined;
}

/** Istio's way to set MeshConfig: the ConfigMap `istio` in `istio-system`, MeshConfig YAML under `mesh`. */
export const meshConfigMap = (mode: 'ALLOW_ANY' | 'REGISTRY_ONLY'): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    outboundTrafficPolicy:\n      mode: ${mode}\n`;

/**
 * A plain HTTP server that is not in the mesh registry (run it in the bridge namespace): answers
 * `{who: 'outside', path, source}` and prints `hit <path>` for every request, so a test can tell
 * that a refused request never arrived.
 */
export async function startOutsideServer(topo: Topology, where: NetnsRef, ip: string, port: number): Promise<{ hits: () => string[] }> {
  const script = `require('node:http').createServer((q,s)=>{console.log('hit '+q.url);s.writeHead(200,{'content-type':'application/json'});s.end(JSON.stringify({who:'outside',path:q.url,source:q.socket.remoteAddress}))}).listen(${port},${JSON.stringify(ip)},()=>console.log('outside listening'))`;
  const out = collect(topo.spawn(where, process.execPath, ['-e', script]));
  await until('the outside HTTP server', 10_000, async () => /outside listening/.test(out()), out);
  return { hits: () => out().split('\n').filter((l) => l.startsWith('hit ')).map((l) => l.slice(4)) };
}
