/**
 * L7 authorization by principal in `weft waypoint`, end to end on loopback through the built bundle
 * (the setup of waypoint.test.ts on its own addresses): a control plane, node-1 (127.0.0.81) hosting
 * three clients (client-1 `authz/sa/client` on 127.0.0.81, client-2 `authz/sa/other` on 127.0.0.84,
 * client-3 `peer-ns/sa/client` on 127.0.0.85; SOCKS5 from each address), node-2 (127.0.0.82) with
 * the echo backend, and the waypoint (127.0.0.83) for the Service `echo`.
 *
 * - AuthorizationPolicy targetRefs the waypoint's Gateway, ALLOW principal `cluster.local/ns/authz/sa/client`
 *   for GET /api*: client-1 passes, client-2 gets 403 `RBAC: access denied`, a DENY by path wins;
 *   the waypoint counts the 403s with source_principal of the denied client.
 * - The same ALLOW by targetRefs to the Service, and a DENY by `source.namespace`.
 * - L4 at the destination: node-2 judges the waypoint's identity (the waypoint is the peer, as in
 *   Istio): an L4 ALLOW for the waypoint's principal lets the traffic through, one for the client's
 *   principal only does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startControl, weftSync, type ControlProcess } from '../support/weft-process.ts';
import type { NodeProcess } from '../support/node-process.ts';
import { startNodesAndWaypoint } from '../support/proxy-fixtures.ts';
import type { WaypointProcess } from '../support/waypoint-process.ts';
import { ambientNamespace, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';
import { socksHttpRequest } from '../support/socks-client.ts';

const NS = 'authz';
const N1 = '127.0.0.81';
const N2 = '127.0.0.82';
const WP = '127.0.0.83';
const CLIENT2_IP = '127.0.0.84';
const CLIENT3_IP = '127.0.0.85';
const VIP = '10.96.91.10';
const ECHO_PORT = 18283;
const CLIENT = `spiffe://cluster.local/ns/${NS}/sa/client`;
const OTHER = `spiffe://cluster.local/ns/${NS}/sa/other`;
const PEER_NS_CLIENT = 'spiffe://cluster.local/ns/peer-ns/sa/client';

const service = `apiVersion: v1
kind: Service
metadata: { name: echo, namespace: ${NS}, labels: { istio.io/use-waypoint: waypoint } }
spec:
  clusterIP: ${VIP}
  selector: { app: echo }
  ports: [{ name: http, port: 80, targetPort: ${ECHO_PORT} }]
`;

const GATEWAY_REF = '[{ group: gateway.networking.k8s.io, kind: Gateway, name: waypoint }]';
const SERVICE_REF = '[{ group: "", kind: Service, name: echo }]';

function policy(name: string, body: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${NS} }
spec:
${body}`;
}

/** ALLOW GET /api* for the given principals, bound by targetRefs. */
const allowApi = (refs: string, principals: string[]) =>
  policy(
    'allow-api',
    `  targetRefs: ${refs}
  action: ALLOW
  rules:
  - from: [{ source: { principals: [${principals.map((p) => `"${p}"`).join(', ')}] } }]
    to: [{ operation: { methods: ["GET"], paths: ["/api*"] } }]
`,
  );

/** Phase 1: by the Gateway: ALLOW client for GET /api*, DENY /api/secret*. */
const phase1 = yamlDocs(
  allowApi(GATEWAY_REF, [`cluster.local/ns/${NS}/sa/client`]),
  policy('deny-secret', `  targetRefs: ${GATEWAY_REF}\n  action: DENY\n  rules: [{ to: [{ operation: { paths: ["/api/secret*"] } }] }]\n`),
);

/** Phase 2: by the Service: ALLOW the `client` service account of both namespaces; DENY namespace peer-ns. */
const phase2 = yamlDocs(
  allowApi(SERVICE_REF, [`cluster.local/ns/${NS}/sa/client`, 'cluster.local/ns/peer-ns/sa/client']),
  policy('deny-peer-ns', `  targetRefs: ${GATEWAY_REF}\n  action: DENY\n  rules: [{ from: [{ source: { namespaces: ["peer-ns"] } }] }]\n`),
);

/** An L4 policy at the destination (node-2): the echo workload accepts only these principals. */
const l4Allow = (principal: string) =>
  policy('echo-l4', `  selector: { matchLabels: { app: echo } }\n  action: ALLOW\n  rules: [{ from: [{ source: { principals: ["${principal}"] } }] }]\n`);

let dir: string;
let cp: ControlProcess;
let n1: NodeProcess;
let n2: NodeProcess;
let wp: WaypointProcess;
let echo: Server;
const cfg = (name: string) => join(dir, 'config', name);
const state = () => join(dir, 'state');

/** An HTTP/1.0 request through SOCKS5 on node-1 from `from` (the client workload's address). */
function request(from: string, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return socksHttpRequest({ proxy: `${N1}:15080`, localAddress: from, ip: VIP, port: 80, path, method, host: 'echo' });
}

const statusOf = (from: string, path: string, method = 'GET') => request(from, path, method).then((r) => r.status, () => 0);

/** Waits until the waypoint (or node-2) enforces what was written: `from` gets `status` for `path`. */
const until = (from: string, path: string, status: number, what: string) => eventually(async () => (await statusOf(from, path)) === status, 15_000, what);

/** The waypoint's istio_requests_total series with these label fragments, summed. */
async function waypointCount(...fragments: string[]): Promise<number> {
  const stats = (await wp.get(15020, '/stats/prometheus')).body;
  let n = 0;
  for (const l of stats.split('\n')) if (l.startsWith('istio_requests_total{') && fragments.every((f) => l.includes(f))) n += Number(l.slice(l.lastIndexOf(' ') + 1));
  return n;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-waypoint-authz-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(
    cfg('mesh.yaml'),
    yamlDocs(
      ambientNamespace(NS),
      ambientNamespace('peer-ns'),
      workloadEntry({ name: 'client-1', namespace: NS, app: 'client', node: 'node-1', address: N1, serviceAccount: 'client' }),
      workloadEntry({ name: 'client-2', namespace: NS, app: 'other', node: 'node-1', address: CLIENT2_IP, serviceAccount: 'other' }),
      workloadEntry({ name: 'client-3', namespace: 'peer-ns', app: 'client', node: 'node-1', address: CLIENT3_IP, serviceAccount: 'client' }),
      workloadEntry({ name: 'echo-2', namespace: NS, app: 'echo', node: 'node-2', address: N2, serviceAccount: 'echo' }),
      service,
    ),
  );
  writeFileSync(cfg('policies.yaml'), phase1);
  const applied = weftSync(['waypoint', 'apply', '-n', NS, '--name', 'waypoint', '--address', WP, '--config', join(dir, 'config')]);
  expect(applied.status, applied.stderr).toBe(0);
  echo = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ who: 'echo-2', path: req.url }));
  });
  await new Promise<void>((r) => echo.listen(ECHO_PORT, N2, r));
  cp = await startControl(['--config', join(dir, 'config'), '--state', state()]);
  [n1, n2, wp] = await startNodesAndWaypoint({ control: cp, state: state(), namespace: NS, n1: N1, n2: N2, wp: WP });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([n1?.stop(), n2?.stop(), wp?.stop()]);
  await cp?.stop();
  echo?.close();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('L7 authorization by principal in the waypoint', () => {
  it('targetRefs the Gateway: ALLOW the client principal for GET /api*, 403 RBAC for another service account, DENY by path', async () => {
    await until(N1, '/api/items', 200, 'client-1 allowed through the waypoint');
    const denied = await request(CLIENT2_IP, '/api/items');
    expect(denied).toEqual({ status: 403, body: 'RBAC: access denied' });
    // the rule's operation: another path, another method
    expect(await statusOf(N1, '/other')).toBe(403);
    expect(await statusOf(N1, '/api/items', 'POST')).toBe(403);
    // DENY before ALLOW
    expect(await request(N1, '/api/secret/key')).toEqual({ status: 403, body: 'RBAC: access denied' });
    // the waypoint judged the client's identity (the access log names the peer)
    const line = await eventually(() => wp.accessLog().find((l) => l.path === '/api/items' && l.response_code === 403), 5000, 'waypoint logged the 403');
    expect(line).toMatchObject({ reporter: 'waypoint', source_principal: OTHER, source_workload: 'client-2' });
  }, 30_000);

  it('counts the 403s in the waypoint metrics with the denied client as source_principal', async () => {
    const before = await waypointCount('reporter="waypoint"', 'response_code="403"', `source_principal="${OTHER}"`);
    for (let i = 0; i < 3; i++) expect(await statusOf(CLIENT2_IP, `/api/count/${i}`)).toBe(403);
    await eventually(async () => (await waypointCount('reporter="waypoint"', 'response_code="403"', `source_principal="${OTHER}"`)) === before + 3, 5000, 'three more 403s for client-2');
    const stats = (await wp.get(15020, '/stats/prometheus')).body;
    const series = stats.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('response_code="403"') && l.includes(`source_principal="${OTHER}"`));
    expect(series).toContain('source_workload="client-2"');
    expect(series).toContain(`source_workload_namespace="${NS}"`);
    // the allowed client's requests are its own series
    expect(await waypointCount('reporter="waypoint"', 'response_code="200"', `source_principal="${CLIENT}"`)).toBeGreaterThan(0);
  });

  it('targetRefs the Service: the same ALLOW; a DENY by source.namespace', async () => {
    writeFileSync(cfg('policies.yaml'), phase2);
    // client-3 (peer-ns/sa/client) is in the ALLOW now, but its namespace is denied
    await until(N1, '/api/secret/key', 200, 'phase 2 policies at the waypoint (the path DENY gone)');
    expect(await request(CLIENT3_IP, '/api/ns')).toEqual({ status: 403, body: 'RBAC: access denied' });
    expect(await statusOf(N1, '/other')).toBe(403); // still only /api*
    expect(await statusOf(N1, '/api/items')).toBe(200);
    expect(await request(CLIENT2_IP, '/api/items')).toEqual({ status: 403, body: 'RBAC: access denied' });
    const line = await eventually(() => wp.accessLog().find((l) => l.path === '/api/ns' && l.response_code === 403), 5000, 'waypoint logged the namespace deny');
    expect(line.source_principal).toBe(PEER_NS_CLIENT);
    // without the namespace DENY, client-3 passes the Service-bound ALLOW
    writeFileSync(cfg('policies.yaml'), allowApi(SERVICE_REF, [`cluster.local/ns/${NS}/sa/client`, 'cluster.local/ns/peer-ns/sa/client']));
    await until(CLIENT3_IP, '/api/ns', 200, 'client-3 allowed once the namespace DENY is gone');
  }, 40_000);

  it('L4 policy at the destination node judges the waypoint, not the client', async () => {
    rmSync(cfg('policies.yaml'));
    await until(CLIENT2_IP, '/open', 200, 'no L7 policy at the waypoint');
    // an L4 ALLOW at node-2 for the client's principal only: the waypoint is the peer there, so refused
    writeFileSync(cfg('l4.yaml'), l4Allow(`cluster.local/ns/${NS}/sa/client`));
    await eventually(async () => (await statusOf(N1, '/api/l4-client')) >= 500, 15_000, 'node-2 refuses the waypoint when only the client is allowed');
    // an L4 ALLOW for the waypoint's principal lets it through
    writeFileSync(cfg('l4.yaml'), l4Allow(`cluster.local/ns/${NS}/sa/waypoint`));
    await until(N1, '/api/l4-waypoint', 200, 'node-2 admits the waypoint');
    expect(await statusOf(CLIENT2_IP, '/api/l4-waypoint-2')).toBe(200);
  }, 40_000);
});
