/**
 * The L4 bench's contenders, all in the e2e netns topology (test/e2e/topology.ts): two node
 * namespaces on a bridge, pods a, b on node1 and c, d on node2. Each contender names the pod wrk runs
 * in, the URL it asks for, and the proxy processes whose CPU and RSS are read:
 *
 * - direct: wrk in pod b (not enrolled) -> nginx in pod d (not enrolled) on the other node, routed
 *   through both nodes and the bridge, no proxy and no capture;
 * - weft: the real bundle, `weft control` on the bridge and one `weft node` per node namespace
 *   (iptables capture, pods enrolled with `weft cni add`); wrk in pod a (enrolled) -> the nginx
 *   Service VIP -> capture -> node1's 15001 -> HBONE mTLS to pod c's 15008 (node2's in-pod
 *   listener) -> nginx in pod c;
 * - stunnel, haproxy: two hops of mutual TLS 1.3 with P-256 certificates, the client-side hop in
 *   node1's namespace (pod b dials it on the node's link address, as a node-local proxy), the
 *   server-side hop in node2's namespace, which dials nginx in pod d.
 * Every process is spawned through the topology, so `topo.destroy()` stops whatever is left.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpOk, until } from '../../e2e/mesh-processes.ts';
import { stopChildren } from '../../e2e/cleanup.ts';
import type { E2ePod, NetnsRef, Topology } from '../../e2e/topology.ts';
import { collect, NGINX_PORT, startWeftMesh } from '../lib/mesh-topology.ts';
import type { BenchPki } from './pki.ts';

// the mesh's config and processes live in ../lib/mesh-topology.ts (the L7 bench's waypoint uses them too)
export { BENCH_PODS, NGINX_PORT, VIP, writeBenchConfig } from '../lib/mesh-topology.ts';
/** The client-side native hops listen here in node1's namespace; the server-side ones on node2's bridge address. */
const ENTRY_PORT = 16001;
const TLS_PORT = 16443;

export interface Running {
  name: string;
  /** Where wrk and curl run. */
  client: NetnsRef;
  /** What they ask for (`/` answers 17 bytes, `/big` 256 MB). */
  url: string;
  /** The proxy processes (empty for direct). */
  pids: number[];
  stop(): Promise<void>;
}

/** nginx in a pod on 0.0.0.0:8080, one worker, `/` a short text and `/big` 256 MB (sendfile from the page cache). */
export async function startNginx(topo: Topology, pod: E2ePod, dir: string): Promise<void> {
  for (const d of ['www', 'tmp', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  const t = join(dir, 'tmp');
  writeFileSync(join(dir, 'www', 'big'), '');
  await topo.exec(topo.net, 'truncate', ['-s', '256M', join(dir, 'www', 'big')]);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${t}/body; proxy_temp_path ${t}/proxy; fastcgi_temp_path ${t}/fcgi; uwsgi_temp_path ${t}/uwsgi; scgi_temp_path ${t}/scgi;
  keepalive_requests 10000000;
  sendfile on;
  tcp_nodelay on;
  server {
    listen 0.0.0.0:${NGINX_PORT} backlog=4096;
    location = / { default_type text/plain; return 200 "hello from nginx\\n"; }
    location /big { root ${dir}/www; }
  }
}
`,
  );
  const child = topo.spawn(pod, 'nginx', ['-c', conf, '-p', dir]);
  const out = collect(child, `nginx in pod ${pod.name}`);
  await until(`nginx in pod ${pod.name}`, 10_000, () => httpOk(topo, pod, `http://127.0.0.1:${NGINX_PORT}/`), out);
}

export function direct(topo: Topology): Running {
  return { name: 'direct', client: topo.pods.b, url: `http://${topo.pods.d.ip}:${NGINX_PORT}/`, pids: [], stop: async () => {} };
}

/**
 * The real mesh: `weft control` + two `weft node`, pods enrolled, ready when curl in pod a reaches
 * the VIP (../lib/mesh-topology.ts).
 */
export async function startWeft(topo: Topology, dir: string, nodeExecArgv: readonly string[], privateNode = false): Promise<Running> {
  const mesh = await startWeftMesh(topo, dir, { nodeExecArgv, ...(privateNode ? { nodeExecutable: (node) => privateNodeCopy(dir, node.name) } : {}) });
  return { name: 'weft', client: topo.pods.a, url: mesh.url, pids: [mesh.pids.node1, mesh.pids.node2], stop: () => mesh.stop() };
}

async function twoHops(topo: Topology, name: string, start: (where: NetnsRef, hop: 'out' | 'in') => ChildProcess): Promise<Running> {
  const inbound = start(topo.nodes.node2, 'in');
  const outbound = start(topo.nodes.node1, 'out');
  const children = [outbound, inbound];
  const out = [collect(inbound, `${name} (in)`), collect(outbound, `${name} (out)`)];
  const url = `http://${topo.nodes.node1.linkAddress}:${ENTRY_PORT}/`;
  try {
    await until(`${name}: curl from pod b through both hops`, 15_000, () => httpOk(topo, topo.pods.b, url), () => out.map((f) => f()).join('\n'));
  } catch (err) {
    await stopChildren(children);
    throw err;
  }
  return { name, client: topo.pods.b, url, pids: children.map((c) => c.pid!), stop: () => stopChildren(children) };
}

export function startStunnel(topo: Topology, dir: string, pki: BenchPki): Promise<Running> {
  const common = `foreground = yes\npid =\nsyslog = no\ndebug = 3\noutput = ${dir}/stunnel.log\nsocket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\n`;
  const tls13 = `CAfile = ${pki.root}\nverifyChain = yes\nsslVersionMin = TLSv1.3\nsslVersionMax = TLSv1.3\n`;
  const server = topo.nodes.node2.ip;
  writeFileSync(join(dir, 'stunnel-in.conf'), `${common}[in]\naccept = ${server}:${TLS_PORT}\nconnect = ${topo.pods.d.ip}:${NGINX_PORT}\ncert = ${pki.server.chain}\nkey = ${pki.server.key}\nrequireCert = yes\n${tls13}`);
  writeFileSync(join(dir, 'stunnel-out.conf'), `${common}[out]\nclient = yes\naccept = 0.0.0.0:${ENTRY_PORT}\nconnect = ${server}:${TLS_PORT}\ncert = ${pki.client.chain}\nkey = ${pki.client.key}\n${tls13}`);
  return twoHops(topo, 'stunnel', (where, hop) => topo.spawn(where, 'stunnel4', [join(dir, `stunnel-${hop}.conf`)]));
}

export function startHaproxy(topo: Topology, dir: string, pki: BenchPki): Promise<Running> {
  const head = `global\n  nbthread 1\n  maxconn 8000\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n`;
  const tls13 = `ca-file ${pki.root} verify required ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3`;
  const server = topo.nodes.node2.ip;
  writeFileSync(join(dir, 'haproxy-in.cfg'), `${head}frontend in\n  bind ${server}:${TLS_PORT} ssl crt ${pki.server.combined} ${tls13}\n  default_backend be\nbackend be\n  server nginx ${topo.pods.d.ip}:${NGINX_PORT}\n`);
  writeFileSync(join(dir, 'haproxy-out.cfg'), `${head}frontend out\n  bind 0.0.0.0:${ENTRY_PORT}\n  default_backend be\nbackend be\n  server hop ${server}:${TLS_PORT} ssl crt ${pki.client.combined} ${tls13}\n`);
  return twoHops(topo, 'haproxy', (where, hop) => topo.spawn(where, 'haproxy', ['-db', '-f', join(dir, `haproxy-${hop}.cfg`)]));
}

/**
 * --private-node: a copy of the node executable for one `weft node`. Each node proxy pages out the
 * read-only file mappings no other process maps (hosts/node/capture/memory-release.ts); on one
 * machine the control plane, both node proxies and this bench share the executable's pages, where a
 * real node runs one node proxy that shares them with nothing.
 */
function privateNodeCopy(dir: string, name: string): string {
  const exe = join(dir, `node-${name}`);
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  return exe;
}
