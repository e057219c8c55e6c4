/**
 * Starts the real `weft` bundle in the e2e topology: `weft control` in the bridge namespace on
 * 10.250.0.1, one `weft node` per node namespace (its node address, iptables capture, its own CNI
 * socket), `weft cni add` for each pod, and an echo backend inside a pod. Every process is spawned
 * through the topology, so `topo.destroy()` stops it; every wait is bounded.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { WEFT_BIN, weftSync } from '../support/weft-process.ts';
import type { E2eNode, E2ePod, NetnsRef, Topology } from './topology.ts';

export interface RunningMesh {
  controlHttp: string;
  /** The processes by name (`control`, `node1`, `node2`): benchmarks read their CPU and RSS. */
  processes: Map<string, ChildProcess>;
  /** Everything each process wrote, stdout and stderr together. */
  output: Map<string, () => string>;
  /** `weft ARGS` inside the bridge namespace (it reaches the control plane and the nodes' admin ports). */
  weftInNet(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
}

function collect(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  return () => out;
}

/** Polls `fn` every 200 ms until it is truthy; fails after `timeoutMs` with `what` and the last detail. */
export async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>, detail: () => string = () => ''): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail()}`.trimEnd());
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function httpOk(topo: Topology, where: NetnsRef, url: string): Promise<boolean> {
  const r = await topo.exec(where, 'curl', ['-sf', '-o', '/dev/null', '--max-time', '2', url], { timeoutMs: 5000 });
  return r.code === 0;
}

export interface MeshOptions {
  /** Node (V8) flags for the `weft node` processes, before the bundle (`--max-semi-space-size=4`). */
  nodeExecArgv?: readonly string[];
  /** The node executable a `weft node` runs on (default: this process's); the L4 bench's --private-node */
  nodeExecutable?: (node: E2eNode) => string;
  /** Extra `weft node` flags (`--access-log FILE`); a function gets the node, for per-node values. */
  nodeArgs?: readonly string[] | ((node: E2eNode) => readonly string[]);
}

export async function startMesh(topo: Topology, dir: string, opts: MeshOptions = {}): Promise<RunningMesh> {
  const state = join(dir, 'state');
  const config = join(dir, 'config');
  const output = new Map<string, () => string>();
  const processes = new Map<string, ChildProcess>();
  const controlHttp = `http://${topo.net.ip}:15014`;
  const control = topo.spawn(topo.net, process.execPath, [WEFT_BIN, 'control', '--config', config, '--state', state, '--listen', topo.net.ip]);
  output.set('control', collect(control));
  processes.set('control', control);
  await until('weft control /ready', 20_000, () => httpOk(topo, topo.net, `${controlHttp}/ready`), () => output.get('control')!());

  const rootCert = join(state, 'root-cert.pem');
  for (const node of Object.values(topo.nodes)) {
    const tok = weftSync(['token', 'create', '--node', node.name, '--state', state]);
    if (tok.status !== 0) throw new Error(`weft token create failed: ${tok.stderr}`);
    const extra = typeof opts.nodeArgs === 'function' ? opts.nodeArgs(node) : (opts.nodeArgs ?? []);
    const args = [...(opts.nodeExecArgv ?? []), WEFT_BIN, 'node', '--control', `${topo.net.ip}:15012`, '--root-cert', rootCert, '--token', tok.stdout.trim(), '--node-name', node.name, '--capture', 'iptables', '--socket', socketOf(dir, node), '--listen', node.ip, ...extra];
    const child = topo.spawn(node, opts.nodeExecutable?.(node) ?? process.execPath, args);
    output.set(node.name, collect(child));
    processes.set(node.name, child);
  }
  for (const node of Object.values(topo.nodes)) {
    await until(`weft node ${node.name} ready`, 20_000, () => httpOk(topo, topo.net, `http://${node.ip}:15021/healthz/ready`), () => output.get(node.name)!());
  }
  return {
    controlHttp,
    processes,
    output,
    weftInNet: (args, timeoutMs = 15_000) => topo.exec(topo.net, process.execPath, [WEFT_BIN, ...args], { timeoutMs }),
  };
}

export const socketOf = (dir: string, node: E2eNode): string => join(dir, `${node.name}.sock`);

/** `weft cni add` for one pod, to its node's proxy. */
export function cniAdd(dir: string, pod: E2ePod, namespace: string): void {
  const r = weftSync(['cni', 'add', '--pod', `${namespace}/${pod.name}`, '--netns', pod.netnsPath, '--socket', socketOf(dir, pod.node), '--timeout', '10000']);
  if (r.status !== 0) throw new Error(`weft cni add ${namespace}/${pod.name} failed: ${r.stderr}${r.stdout}`);
}

/** A JSON echo server inside a pod's namespace on `port` (answers with what it saw: path, source, headers). */
export async function startEcho(topo: Topology, pod: E2ePod, port: number): Promise<() => string> {
  const script = `require('node:http').createServer((q,s)=>{const b=JSON.stringify({pod:${JSON.stringify(pod.name)},path:q.url,method:q.method,source:q.socket.remoteAddress,headers:q.headers});s.writeHead(200,{'content-type':'application/json'});s.end(b)}).listen(${port},'0.0.0.0',()=>console.log('echo listening'))`;
  const child = topo.spawn(pod, process.execPath, ['-e', script]);
  const out = collect(child);
  await until(`the echo backend in pod ${pod.name}`, 10_000, async () => /echo listening/.test(out()), out);
  return out;
}
