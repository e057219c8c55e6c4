/**
 * The real Weft mesh in the e2e netns topology (test/e2e/topology.ts), as the benches run it: two
 * node namespaces on a bridge, pods a, b on node1 and c, d on node2; `weft control` on the bridge and
 * one `weft node` per node namespace (iptables capture, pods enrolled with `weft cni add`), optionally
 * a `weft waypoint` on node2's side of the bridge (its own address on node2's eth0) for the Service.
 * Shared by the L4 bench (test/bench/l4: the `weft` contender) and the L7 bench (test/bench/l7: the
 * `waypoint` contender). Every process is spawned through the topology, so `topo.destroy()` stops
 * whatever is left.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ambientNamespace, service, yamlDocs } from '../../support/mesh-yaml.ts';
import { WEFT_BIN, weftSync } from '../../support/weft-process.ts';
import { cniAdd, httpOk, startMesh, until, type RunningMesh } from '../../e2e/mesh-processes.ts';
import { stopChildren } from '../../e2e/cleanup.ts';
import type { E2eNode, PodName, Topology } from '../../e2e/topology.ts';

/** The backend's port in pods c and d. */
export const NGINX_PORT = 8080;
/** The ClusterIP of Service bench/nginx (pods with app=nginx in `bench`: pod c). */
export const VIP = '10.96.0.30';
/** The waypoint's address: a second address on node2's eth0, on the bridge's /24 (so node1 and the bridge reach it). */
export const WAYPOINT_ADDRESS = '10.250.0.22';
export const WAYPOINT_NAME = 'waypoint';

/** Pod -> Kubernetes namespace and app: a and c in the ambient namespace `bench`, b and d in `plain`. */
export const BENCH_PODS: Record<PodName, { ns: string; app: string }> = {
  a: { ns: 'bench', app: 'client' },
  c: { ns: 'bench', app: 'nginx' },
  b: { ns: 'plain', app: 'client' },
  d: { ns: 'plain', app: 'nginx' },
};

/** Keeps the last ~20 KB a child wrote (stdout and stderr) and reports a non-zero exit on stderr. */
export function collect(child: ChildProcess, what: string): () => string {
  let out = '';
  const keep = (d: Buffer): void => void (out.length < 20_000 && (out += d.toString()));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', (code, signal) => {
    if (code && !signal) process.stderr.write(`${what} exited with ${code}: ${out.slice(-2000)}\n`);
  });
  return () => out;
}

/**
 * The config `weft control` serves: namespaces, service accounts, the four pods, the nginx Service
 * (labelled `istio.io/use-waypoint: <serviceWaypoint>` when given).
 */
export function writeBenchConfig(dir: string, topo: Topology, o: { serviceWaypoint?: string } = {}): void {
  mkdirSync(dir, { recursive: true });
  const pods = (Object.keys(BENCH_PODS) as PodName[]).map((name) => {
    const p = BENCH_PODS[name];
    const pod = topo.pods[name];
    return yamlDocs(
      `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ${p.app}, namespace: ${p.ns}}\n`,
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${p.ns}\n  labels: {app: ${p.app}}\nspec:\n  nodeName: ${pod.node.name}\n  serviceAccountName: ${p.app}\n  containers:\n  - name: app\n    ports: [{name: http, containerPort: ${NGINX_PORT}}]\nstatus:\n  podIP: ${pod.ip}\n  conditions: [{type: Ready, status: "True"}]\n`,
    );
  });
  writeFileSync(join(dir, 'namespaces.yaml'), yamlDocs(ambientNamespace('bench'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: plain }\n'));
  writeFileSync(join(dir, 'pods.yaml'), yamlDocs(...pods));
  let svc = service({ name: 'nginx', namespace: 'bench', app: 'nginx', clusterIP: VIP, targetPort: NGINX_PORT });
  if (o.serviceWaypoint) svc = svc.replace('metadata: { name: nginx, namespace: bench }', `metadata: { name: nginx, namespace: bench, labels: { istio.io/use-waypoint: ${o.serviceWaypoint} } }`);
  if (o.serviceWaypoint && !svc.includes('istio.io/use-waypoint')) throw new Error('writeBenchConfig: the Service template changed; cannot label it');
  writeFileSync(join(dir, 'services.yaml'), svc);
}

export interface WeftMesh {
  /** The VIP URL wrk and curl in pod a ask for. */
  url: string;
  /** The data-path processes: node1, node2 and (with a waypoint) waypoint; the control plane is not among them. */
  pids: { node1: number; node2: number; waypoint?: number };
  /** Everything each process wrote (last ~20 KB for the waypoint). */
  logs(): string;
  /** A GET on the waypoint's stats port, from the bridge namespace (undefined without a waypoint). */
  waypointStats?: () => Promise<string>;
  stop(): Promise<void>;
}

export interface WeftMeshOptions {
  /** Node (V8) flags for the `weft node` processes. */
  nodeExecArgv: readonly string[];
  /** the node executable each `weft node` runs on (default: this process's) */
  nodeExecutable?: (node: E2eNode) => string;
  /**
   * Put a `weft waypoint` (bench/waypoint) in front of the nginx Service: it runs in node2's namespace
   * on WAYPOINT_ADDRESS, `weft waypoint apply --address` writes its Gateway, WorkloadEntry and Service,
   * and the Service is labelled istio.io/use-waypoint. Node (V8) flags for it in `execArgv`.
   */
  waypoint?: { execArgv?: readonly string[] };
}

/**
 * The real mesh: `weft control` + two `weft node` (+ the waypoint), pods enrolled, ready when curl in
 * pod a reaches the VIP (through the waypoint when there is one). Access logs of the node proxies go
 * to files (the default, stdout, would fill the bench's pipe buffers); the waypoint logs none (as the
 * L7 bench's gateway).
 */
export async function startWeftMesh(topo: Topology, dir: string, o: WeftMeshOptions): Promise<WeftMesh> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'config');
  writeBenchConfig(config, topo, o.waypoint ? { serviceWaypoint: WAYPOINT_NAME } : {});
  if (o.waypoint) {
    const applied = weftSync(['waypoint', 'apply', '-n', 'bench', '--name', WAYPOINT_NAME, '--address', WAYPOINT_ADDRESS, '--config', config]);
    if (applied.status !== 0) throw new Error(`weft waypoint apply failed: ${applied.stderr}${applied.stdout}`);
  }
  let mesh: RunningMesh | undefined;
  let waypoint: ChildProcess | undefined;
  let waypointOut: () => string = () => '';
  const stop = async (): Promise<void> => {
    // the waypoint and the nodes first (nodes drain and remove their pods' capture rules), then the control plane
    await stopChildren([waypoint, mesh?.processes.get('node1'), mesh?.processes.get('node2')].filter((c): c is ChildProcess => !!c));
    const control = mesh?.processes.get('control');
    if (control) await stopChildren([control]);
  };
  const logs = (): string => [...(mesh?.output ?? []), ...(waypoint ? [['waypoint', waypointOut] as const] : [])].map(([k, f]) => `--- ${k}\n${f().slice(-2000)}`).join('\n');
  try {
    mesh = await startMesh(topo, dir, { nodeExecArgv: o.nodeExecArgv, ...(o.nodeExecutable ? { nodeExecutable: o.nodeExecutable } : {}), nodeArgs: (node) => ['--access-log', join(dir, `${node.name}-access.log`), '--drain-ms', '500'] });
    for (const name of Object.keys(BENCH_PODS) as PodName[]) cniAdd(dir, topo.pods[name], BENCH_PODS[name].ns);
    let waypointStats: (() => Promise<string>) | undefined;
    if (o.waypoint) {
      const node2: E2eNode = topo.nodes.node2;
      // idempotent: the address stays on node2's eth0 for the topology's life
      const addr = await topo.exec(node2, 'ip', ['addr', 'replace', `${WAYPOINT_ADDRESS}/32`, 'dev', 'eth0']);
      if (addr.code !== 0) throw new Error(`adding ${WAYPOINT_ADDRESS} to ${node2.ns}: ${addr.stderr}`);
      const tok = weftSync(['token', 'create', '--waypoint', `bench/${WAYPOINT_NAME}`, '--state', join(dir, 'state')]);
      if (tok.status !== 0) throw new Error(`weft token create --waypoint failed: ${tok.stderr}`);
      const args = [...(o.waypoint.execArgv ?? []), WEFT_BIN, 'waypoint', '--control', `${topo.net.ip}:15012`, '--root-cert', join(dir, 'state', 'root-cert.pem'), '--token', tok.stdout.trim(), '--namespace', 'bench', '--name', WAYPOINT_NAME, '--listen', WAYPOINT_ADDRESS, '--drain-ms', '500'];
      waypoint = topo.spawn(node2, process.execPath, args);
      waypointOut = collect(waypoint, 'weft waypoint');
      await until('weft waypoint ready', 20_000, () => httpOk(topo, topo.net, `http://${WAYPOINT_ADDRESS}:15021/healthz/ready`), logs);
      waypointStats = async () => {
        const r = await topo.exec(topo.net, 'curl', ['-sf', '--max-time', '5', `http://${WAYPOINT_ADDRESS}:15020/stats/prometheus`]);
        if (r.code !== 0) throw new Error(`waypoint stats: curl exited ${r.code}`);
        return r.stdout;
      };
    }
    const url = `http://${VIP}/`;
    await until(`curl from pod a to the nginx VIP through the mesh${o.waypoint ? ' and the waypoint' : ''}`, 30_000, () => httpOk(topo, topo.pods.a, url), logs);
    const pids = { node1: mesh.processes.get('node1')!.pid!, node2: mesh.processes.get('node2')!.pid!, ...(waypoint ? { waypoint: waypoint.pid! } : {}) };
    return { url, pids, logs, ...(waypointStats ? { waypointStats } : {}), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The sum of `istio_requests_total` series reported by the waypoint (reporter="waypoint") in a Prometheus text. */
export function waypointRequests(prometheusText: string): number {
  let n = 0;
  for (const line of prometheusText.split('\n')) if (line.startsWith('istio_requests_total{') && line.includes('reporter="waypoint"')) n += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  return n;
}
