/**
 * `weft waypoint` end to end on loopback, through the built bundle: a control plane, two node
 * proxies (node-1 on 127.0.0.61 hosting the client, node-2 on 127.0.0.62 hosting the echo backend;
 * capture off, clients over SOCKS5), and a waypoint on 127.0.0.63 whose Gateway, WorkloadEntry and
 * Service `weft waypoint apply --address` wrote. The Service `echo` is labelled
 * `istio.io/use-waypoint: waypoint`, `echo-direct` (same backend) is not. Traffic to `echo` goes
 * node-1 -> waypoint -> node-2 over HBONE, and a mesh VirtualService (header set, fault abort) acts
 * only there; removing the label sends it straight to node-2 again without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect as h2connect } from 'node:http2';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startControl, weftSync, type ControlProcess } from '../support/weft-process.ts';
import type { NodeProcess } from '../support/node-process.ts';
import { startNodesAndWaypoint } from '../support/proxy-fixtures.ts';
import type { WaypointProcess } from '../support/waypoint-process.ts';
import { ambientNamespace, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';
import { socksConnect, socksHttpRequest } from '../support/socks-client.ts';

const N1 = '127.0.0.61';
const N2 = '127.0.0.62';
const WP = '127.0.0.63';
const VIP = '10.96.90.10';
const DIRECT_VIP = '10.96.90.11';
const ECHO_PORT = 18280;
const CLIENT = 'spiffe://cluster.local/ns/demo/sa/client';
const WAYPOINT = 'spiffe://cluster.local/ns/demo/sa/waypoint';
const ECHO_HOST = 'echo.demo.svc.cluster.local';

function svc(name: string, vip: string, waypoint: boolean): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: demo${waypoint ? ', labels: { istio.io/use-waypoint: waypoint }' : ''} }
spec:
  clusterIP: ${vip}
  selector: { app: echo }
  ports: [{ name: http, port: 80, targetPort: ${ECHO_PORT} }]
`;
}

function vs(host: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${host.split('.')[0]}, namespace: demo }
spec:
  hosts: [${host}]
  http:
    - match: [{ headers: { x-fault: { exact: abort } } }]
      fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
      route: [{ destination: { host: ${host} } }]
    - headers: { request: { set: { x-routed-by: waypoint } } }
      route: [{ destination: { host: ${host} } }]
`;
}

const services = (echoUsesWaypoint: boolean) => yamlDocs(svc('echo', VIP, echoUsesWaypoint), svc('echo-direct', DIRECT_VIP, false));

let dir: string;
let cp: ControlProcess;
let n1: NodeProcess;
let n2: NodeProcess;
let wp: WaypointProcess;
let echo: Server;
const cfg = (name: string) => join(dir, 'config', name);
const state = () => join(dir, 'state');

/** An HTTP/1.0 request through SOCKS5 on node-1, from the client's address; status, headers and body. */
function request(ip: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return socksHttpRequest({ proxy: `${N1}:15080`, localAddress: N1, ip, port: 80, path, headers });
}

/** A SOCKS5 tunnel from node-1 to ip:80, ready for any protocol. */
async function socksTunnel(ip: string): Promise<Socket> {
  const { socket, ready } = socksConnect({ proxy: `${N1}:15080`, localAddress: N1, ip, port: 80 });
  await ready;
  return socket;
}

const seen = (body: string) => JSON.parse(body) as { who: string; path: string; headers: Record<string, string> };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-waypoint-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(
    cfg('mesh.yaml'),
    yamlDocs(
      ambientNamespace('demo'),
      workloadEntry({ name: 'client-1', namespace: 'demo', app: 'client', node: 'node-1', address: N1, serviceAccount: 'client' }),
      workloadEntry({ name: 'echo-2', namespace: 'demo', app: 'echo', node: 'node-2', address: N2, serviceAccount: 'echo' }),
      vs(ECHO_HOST),
      vs('echo-direct.demo.svc.cluster.local'),
    ),
  );
  writeFileSync(cfg('services.yaml'), services(true));
  // what a user outside Kubernetes runs: the Gateway, and where the waypoint runs (WorkloadEntry + Service)
  const applied = weftSync(['waypoint', 'apply', '-n', 'demo', '--name', 'waypoint', '--address', WP, '--config', join(dir, 'config')]);
  expect(applied.status, applied.stderr).toBe(0);
  echo = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ who: 'echo-2', path: req.url, headers: req.headers }));
  });
  await new Promise<void>((r) => echo.listen(ECHO_PORT, N2, r));
  cp = await startControl(['--config', join(dir, 'config'), '--state', state()]);
  [n1, n2, wp] = await startNodesAndWaypoint({ control: cp, state: state(), namespace: 'demo', n1: N1, n2: N2, wp: WP });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([n1?.stop(), n2?.stop(), wp?.stop()]);
  await cp?.stop();
  echo?.close();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('weft waypoint on loopback', () => {
  it('takes traffic for an enrolled service: node-1 -> waypoint -> node-2 over HBONE, with identities on each hop', async () => {
    const r = await eventually(() => request(VIP, '/via-waypoint'), 10_000, 'a request through the waypoint');
    expect(r.status, r.body).toBe(200);
    const got = seen(r.body);
    expect(got).toMatchObject({ who: 'echo-2', path: '/via-waypoint' });
    // the mesh VirtualService ran (only a waypoint runs L7 routes for mesh traffic)
    expect(got.headers['x-routed-by']).toBe('waypoint');
    expect(got.headers['x-forwarded-for']).toBe(N1);
    // node-1 tunnelled to the waypoint, not to the endpoint
    const out = await eventually(() => n1.accessLog().find((l) => l.direction === 'outbound' && l.dst?.addr === `${WP}:15008`), 5000, 'node-1 outbound to the waypoint');
    expect(out).toMatchObject({ connection_security_policy: 'mutual_tls' });
    expect(out.dst.hbone_addr).toBe(`${VIP}:80`);
    // the waypoint saw the client's identity and reports as reporter="waypoint"
    const line = await eventually(() => wp.accessLog().find((l) => l.path === '/via-waypoint'), 5000, 'waypoint access log');
    expect(line).toMatchObject({ reporter: 'waypoint', source_principal: CLIENT, response_code: 200, upstream_cluster: `outbound|80||${ECHO_HOST}`, upstream_host: `${N2}:${ECHO_PORT}` });
    expect(line.downstream_remote_address).toMatch(new RegExp(`^${N1.replace(/\./g, '\\.')}:\\d+$`));
    const stats = (await wp.get(15020, '/stats/prometheus')).body;
    const series = stats.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="waypoint"') && l.includes(`source_principal="${CLIENT}"`));
    expect(series, stats).toBeDefined();
    expect(series).toContain(`destination_service="${ECHO_HOST}"`);
    expect(series).toContain('destination_principal="spiffe://cluster.local/ns/demo/sa/echo"');
    // node-2 was reached by the waypoint (its identity is the peer); the waypoint keeps that connection
    // pooled, so node-2's access-log line comes when it closes: its open counter shows it now
    const opened = await eventually(
      async () => (await n2.get(15020, '/stats/prometheus')).body.split('\n').find((l) => l.startsWith('istio_tcp_connections_opened_total{reporter="destination"') && l.includes(`source_principal="${WAYPOINT}"`)),
      5000,
      'node-2 counted a connection from the waypoint',
    );
    expect(opened).toContain('connection_security_policy="mutual_tls"');
    expect(opened).toContain('destination_principal="spiffe://cluster.local/ns/demo/sa/echo"');
  }, 30_000);

  it('serves prior-knowledge HTTP/2 (h2c) inside the tunnel, with the same routes and principal', async () => {
    const sock = await socksTunnel(VIP);
    const session = h2connect(`http://${VIP}`, { createConnection: () => sock });
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ':method': 'GET', ':path': '/h2' });
        let status = 0;
        let body = '';
        req.on('response', (h) => (status = Number(h[':status'])));
        req.setEncoding('utf8');
        req.on('data', (d: string) => (body += d));
        req.on('end', () => resolve({ status, body }));
        req.on('error', reject);
        req.end();
      });
      expect(status, body).toBe(200);
      expect(seen(body)).toMatchObject({ path: '/h2', headers: { 'x-routed-by': 'waypoint' } });
    } finally {
      session.close();
    }
    const line = await eventually(() => wp.accessLog().find((l) => l.path === '/h2'), 5000, 'waypoint logged the h2 request');
    expect(line).toMatchObject({ protocol: 'HTTP/2', source_principal: CLIENT, response_code: 200 });
  });

  it('applies the VirtualService fault only on the waypoint path', async () => {
    const aborted = await request(VIP, '/fault', { 'x-fault': 'abort' });
    expect(aborted.status).toBe(418);
    const line = await eventually(() => wp.accessLog().find((l) => l.path === '/fault'), 5000, 'waypoint logged the abort');
    expect(line).toMatchObject({ response_code: 418, response_flags: 'FI', source_principal: CLIENT });
    // the same VirtualService on a service without a waypoint does nothing: node proxies are L4
    const direct = await request(DIRECT_VIP, '/fault-direct', { 'x-fault': 'abort' });
    expect(direct.status).toBe(200);
    expect(seen(direct.body).headers['x-routed-by']).toBeUndefined();
  });

  it('lets a service without the label bypass the waypoint', async () => {
    const before = wp.accessLog().length;
    const r = await request(DIRECT_VIP, '/direct');
    expect(r.status).toBe(200);
    expect(seen(r.body)).toMatchObject({ who: 'echo-2', path: '/direct' });
    const out = await eventually(() => n1.accessLog().find((l) => l.direction === 'outbound' && l.dst?.hbone_addr === `${N2}:${ECHO_PORT}`), 5000, 'node-1 straight to node-2');
    expect(out.dst.addr).toBe(`${N2}:15008`);
    await eventually(() => n2.accessLog().some((l) => l.direction === 'inbound' && l.src?.identity === CLIENT), 5000, 'node-2 sees the client itself');
    expect(wp.accessLog().slice(before).some((l) => l.path === '/direct')).toBe(false);
  });

  it('returns traffic to the direct path when the label goes, and back through the waypoint when it returns', async () => {
    writeFileSync(cfg('services.yaml'), services(false));
    await eventually(async () => seen((await request(VIP, '/unlabelled')).body).headers['x-routed-by'] === undefined, 10_000, 'echo served directly');
    const fault = await request(VIP, '/unlabelled-fault', { 'x-fault': 'abort' });
    expect(fault.status).toBe(200);
    expect(wp.accessLog().some((l) => l.path === '/unlabelled-fault')).toBe(false);
    writeFileSync(cfg('services.yaml'), services(true));
    await eventually(async () => (await request(VIP, '/labelled-again', { 'x-fault': 'abort' })).status === 418, 10_000, 'the waypoint back in the path');
  }, 30_000);

  it('shows the waypoint in /config_dump: its HBONE address and the listeners by VIP', async () => {
    const d = JSON.parse((await wp.get(15000, '/config_dump')).body);
    expect(d).toMatchObject({ role: 'waypoint', name: 'demo/waypoint', identity: WAYPOINT });
    expect(d.waypoint.address).toBe(`${WP}:15008`);
    expect(d.waypoint.targets[`${VIP}:80`]).toBe(`${ECHO_HOST}:80`);
    expect(d.waypoint.targets[`${DIRECT_VIP}:80`]).toBeUndefined();
    expect(d.listeners).toEqual([]);
  });

  it('logs the waypoint as the source on node-2 once its pooled connection closes, with the client address from forwarded', async () => {
    await wp.stop();
    const inbound = await eventually(() => n2.accessLog().find((l) => l.direction === 'inbound' && l.src?.identity === WAYPOINT), 10_000, 'node-2 inbound line for the waypoint');
    expect(inbound).toMatchObject({ connection_security_policy: 'mutual_tls', dst: { addr: `${N2}:${ECHO_PORT}` } });
    expect(inbound.src.addr).toMatch(new RegExp(`^${N1.replace(/\./g, '\\.')}:`));
    // with the waypoint gone, node-1 refuses rather than bypassing it (no healthy waypoint is an error, as in ztunnel)
    await expect(request(VIP, '/no-waypoint')).rejects.toThrow();
  }, 20_000);
});
