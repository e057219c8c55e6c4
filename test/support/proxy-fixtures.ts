/**
 * Small fixtures the gateway/waypoint integration tests share: a free port, a raw GET over
 * node:http with its own Host header, echo backends on one common port, `weft control` + join
 * token + `weft gateway` started together, and two nodes + a waypoint started together.
 */
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { startEchoBackend, type EchoBackend, type EchoBackendOptions } from './echo-backend.ts';
import { startGateway, type GatewayProcess } from './gateway-process.ts';
import { startNode, type NodeProcess } from './node-process.ts';
import { startWaypoint, type WaypointProcess } from './waypoint-process.ts';
import { startControl, weftSync, type ControlProcess } from './weft-process.ts';

/** A port free on `host` now (the OS's ephemeral choice, released again). */
/**
 * A port free on `host` now, for a process a test is about to start.
 *
 * Why not listen(0): that hands out a port of the kernel's ephemeral range (32768-60999 here), and
 * between the probe and the child's bind any outgoing connection of the run may take it as its
 * local port (seen in CI: a gateway not ready in 30 s). Ports below that range are never given to
 * outgoing connections. Each vitest worker probes its own block of them (VITEST_POOL_ID; other
 * processes: by pid), and a process never hands out the same port twice until its block wraps.
 */
const PORT_FLOOR = 20000;
const PORT_BLOCK = 400;
const PORT_BLOCKS = 30; // 20000-31999, below the ephemeral range
let portCursor = -1;

function portBlockStart(): number {
  const pool = Number(process.env.VITEST_POOL_ID);
  const slot = Number.isInteger(pool) && pool > 0 ? pool - 1 : process.pid;
  return PORT_FLOOR + (slot % PORT_BLOCKS) * PORT_BLOCK;
}

function canListen(host: string, port: number): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const start = portBlockStart();
  for (let tries = 0; tries < PORT_BLOCK; tries++) {
    portCursor = (portCursor + 1) % PORT_BLOCK;
    const port = start + portCursor;
    if (await canListen(host, port)) return port;
  }
  throw new Error(`no free port in ${start}-${start + PORT_BLOCK - 1} on ${host}`);
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON; if it is not JSON, undefined (or the text with `textIfNotJson`). */
  json: any;
}

/**
 * One request with exactly the headers given (a `host` among them is sent as is), no redirects
 * followed, a new connection each (`agent: false`).
 */
export function httpGet(o: { host: string; port: number; path: string; method?: string; headers?: Record<string, string>; timeoutMs?: number; textIfNotJson?: boolean }): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: o.host, port: o.port, path: o.path, method: o.method ?? 'GET', agent: false, headers: o.headers ?? {}, timeout: o.timeoutMs ?? 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json: any = o.textIfNotJson ? text : undefined;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Echo backends (one per options, each on its own address) on one random port from
 * 20000..20000+`span` free on all of them; tries `tries` ports.
 */
export async function startEchoesOnCommonPort(opts: readonly Omit<EchoBackendOptions, 'httpPort'>[], o: { tries?: number; span?: number } = {}): Promise<{ port: number; echoes: EchoBackend[] }> {
  for (let tries = 0; tries < (o.tries ?? 20); tries++) {
    const port = 20000 + Math.floor(Math.random() * (o.span ?? 20000));
    const echoes: EchoBackend[] = [];
    try {
      for (const e of opts) echoes.push(await startEchoBackend({ ...e, httpPort: port }));
      return { port, echoes };
    } catch {
      for (const e of echoes) await e.close();
    }
  }
  throw new Error('no common free port for the echo backends');
}

/**
 * `weft control --config <config> --state <state>` (+ `controlArgs`), a join token for `gateway`
 * (`<namespace>/<name>`), and `weft gateway` with that token on `listen` (admin/stats/ready on free
 * ports, + `args`), waited for until ready. If the gateway does not start, control is stopped.
 */
export async function startControlAndGateway(o: { config: string; state: string; gateway: string; listen?: string; controlArgs?: string[]; args?: string[]; readyMs?: number }): Promise<{ control: ControlProcess; gateway: GatewayProcess }> {
  const listen = o.listen ?? '127.0.0.1';
  const control = await startControl(['--config', o.config, '--state', o.state, ...(o.controlArgs ?? [])]);
  try {
    const token = weftSync(['token', 'create', '--gateway', o.gateway, '--state', o.state]).stdout.trim();
    const gateway = await startGateway({ control: control.secure, rootCert: join(o.state, 'root-cert.pem'), token, listen, ports: { admin: await freePort(), stats: await freePort(), ready: await freePort() }, args: o.args ?? [] });
    try {
      await gateway.waitReady(o.readyMs ?? 20_000);
    } catch (e) {
      await gateway.stop();
      throw e;
    }
    return { control, gateway };
  } catch (e) {
    await control.stop();
    throw e;
  }
}

/**
 * `weft node` node-1 on `n1` and node-2 on `n2`, and `weft waypoint` <namespace>/waypoint on `wp`
 * (access log on stdout), each with its own join token from `state`, waited for until all are ready
 * (stopped again if they are not).
 */
export async function startNodesAndWaypoint(o: { control: ControlProcess; state: string; namespace: string; n1: string; n2: string; wp: string }): Promise<[NodeProcess, NodeProcess, WaypointProcess]> {
  const rootCert = join(o.state, 'root-cert.pem');
  const token = (...what: string[]) => weftSync(['token', 'create', ...what, '--state', o.state]).stdout.trim();
  const started = await Promise.all([
    startNode({ control: o.control.secure, rootCert, token: token('--node', 'node-1'), nodeName: 'node-1', listen: o.n1 }),
    startNode({ control: o.control.secure, rootCert, token: token('--node', 'node-2'), nodeName: 'node-2', listen: o.n2 }),
    startWaypoint({ control: o.control.secure, rootCert, token: token('--waypoint', `${o.namespace}/waypoint`), namespace: o.namespace, name: 'waypoint', listen: o.wp, args: ['--access-log', '-'] }),
  ] as const);
  try {
    await Promise.all(started.map((p) => p.waitReady()));
  } catch (e) {
    await Promise.allSettled(started.map((p) => p.stop()));
    throw e;
  }
  return [...started];
}
