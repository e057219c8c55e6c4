/**
 * The L7 bench's mesh contenders, in the e2e netns topology (test/e2e/topology.ts, the L4 bench's;
 * processes started by ../lib/mesh-topology.ts):
 *
 * - waypoint: wrk in pod a (enrolled, namespace `bench`) -> the nginx Service VIP, captured by
 *   node1's `weft node` -> HBONE mTLS to the waypoint (`weft waypoint` bench/waypoint, in node2's
 *   namespace on its own address 10.250.0.22 on the bridge; the Service is labelled
 *   istio.io/use-waypoint) -> HTTP/1.1 parsed, routed, new HBONE to pod c's 15008 (node2's in-pod
 *   listener) -> node2 dials the origin in pod c. CPU and RSS: node1 + waypoint + node2 (and each).
 * - direct-netns: wrk in pod b -> the origin in pod d (neither enrolled), across both nodes and the
 *   bridge with no proxy: the baseline for the latency the mesh path adds, since the loopback
 *   `direct` crosses no veth or bridge.
 *
 * Both origins are the same nginx program and config as the loopback origin, on 0.0.0.0:8080.
 * Needs root, `ip netns`, nsenter, iptables and curl; without them the contenders are skipped.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupStale, createTopology, e2eUnsupportedReason, type E2ePod, type Topology } from '../../e2e/topology.ts';
import { httpOk, until } from '../../e2e/mesh-processes.ts';
import { collect, NGINX_PORT, startWeftMesh, WAYPOINT_ADDRESS, waypointRequests } from '../lib/mesh-topology.ts';
import { nginxConf, originServer } from './origin.ts';

export const MESH_CONTENDERS = ['waypoint', 'direct-netns'] as const;

/** What a contender in the topology gives the L7 bench's measure(). */
export interface MeshRunning {
  name: string;
  /** The URL wrk asks for, from inside `ns`. */
  url: string;
  ns: string;
  /** The data-path processes, summed for CPU and RSS. */
  pids: number[];
  /** Each process on its own (node1, waypoint, node2): the per-process breakdown. */
  parts?: { name: string; pid: number }[];
  note?: string;
  /** After the measured runs: a line saying what the waypoint saw, given how many requests wrk sent. */
  check?: (sent: number) => Promise<string>;
  stop(): Promise<void>;
}

/** Why the mesh contenders cannot run here (not root, no netns tools, no curl), or undefined. */
export function meshUnsupportedReason(): string | undefined {
  const r = e2eUnsupportedReason();
  if (r) return r;
  if (spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).status !== 0) return 'curl is missing (apt-get install -y curl)';
  return undefined;
}

export interface MeshSide {
  topo: Topology;
  start(name: (typeof MESH_CONTENDERS)[number]): Promise<MeshRunning>;
  destroy(): Promise<void>;
}

async function startOrigin(topo: Topology, pod: E2ePod, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, originServer(`0.0.0.0:${NGINX_PORT}`)));
  const child = topo.spawn(pod, 'nginx', ['-c', conf, '-p', dir]);
  const out = collect(child, `origin in pod ${pod.name}`);
  await until(`the origin in pod ${pod.name}`, 10_000, () => httpOk(topo, pod, `http://127.0.0.1:${NGINX_PORT}/`), out);
}

/**
 * The topology (namespaces of runs that died are removed first) with an origin in pods c and d, kept
 * for the whole bench; each contender's processes are started fresh for its turn.
 */
export async function createMeshSide(dir: string, nodeExecArgv: readonly string[]): Promise<MeshSide> {
  await cleanupStale();
  const topo = await createTopology();
  try {
    await startOrigin(topo, topo.pods.c, join(dir, 'origin-c'));
    await startOrigin(topo, topo.pods.d, join(dir, 'origin-d'));
  } catch (err) {
    await topo.destroy();
    throw err;
  }
  let runs = 0;
  return {
    topo,
    destroy: () => topo.destroy(), // every process spawned in it, then the namespaces (and their iptables rules)
    start: async (name) => {
      if (name === 'direct-netns') return { name, url: `http://${topo.pods.d.ip}:${NGINX_PORT}/`, ns: topo.pods.b.ns, pids: [], stop: async () => {} };
      const mesh = await startWeftMesh(topo, join(dir, `waypoint-${runs++}`), { nodeExecArgv, waypoint: {} });
      try {
        // the readiness curl went through the mesh; it went through the waypoint only if the waypoint counted it
        await until('the waypoint to count the readiness request', 5000, async () => waypointRequests(await mesh.waypointStats!()) > 0, () => mesh.logs());
        const { node1, waypoint, node2 } = mesh.pids;
        return {
          name,
          url: mesh.url,
          ns: topo.pods.a.ns,
          pids: [node1, waypoint!, node2],
          parts: [
            { name: 'node1 (client side)', pid: node1 },
            { name: 'waypoint', pid: waypoint! },
            { name: 'node2 (server side)', pid: node2 },
          ],
          note: `pod a -> node1 -> HBONE -> waypoint (node2's namespace, ${WAYPOINT_ADDRESS}) -> HBONE -> node2 -> origin in pod c (the waypoint counted the readiness request)`,
          check: async (sent) => {
            const n = waypointRequests(await mesh.waypointStats!());
            return `waypoint: istio_requests_total{reporter="waypoint"} ${n}, wrk completed ${sent} (the rest: the readiness request and requests cut when wrk stopped)`;
          },
          stop: () => mesh.stop(),
        };
      } catch (err) {
        await mesh.stop();
        throw err;
      }
    },
  };
}
