/**
 * An http-filter WasmPlugin on `weft waypoint` through the built bundle: a control plane, two node
 * proxies (node-1 127.0.0.71 with the client, node-2 127.0.0.72 with the echo backend) and a
 * waypoint on 127.0.0.73 serving the `echo` Service. The built-in header-rewrite, targeting the
 * waypoint's Gateway, sets a request header from the HBONE peer's identity (the client's, as the
 * waypoint sees it) and a response header from the upstream's status: traffic through the
 * waypoint carries both, and the node proxies never load a plugin.
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
import { socksConnect } from '../support/socks-client.ts';

const N1 = '127.0.0.71';
const N2 = '127.0.0.72';
const WP = '127.0.0.73';
const VIP = '10.96.91.10';
const ECHO_PORT = 18281;
const CLIENT = 'spiffe://cluster.local/ns/demo/sa/client';

const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: echo, namespace: demo, labels: { istio.io/use-waypoint: waypoint } }
spec:
  clusterIP: ${VIP}
  selector: { app: echo }
  ports: [{ name: http, port: 80, targetPort: ${ECHO_PORT} }]
`;

const PLUGIN = `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: rewrite, namespace: demo }
spec:
  url: file:///builtin/header-rewrite.wasm
  failStrategy: FAIL_OPEN
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: waypoint }]
  pluginConfig:
    request: { set: { x-peer: "\${source.principal}" } }
    response: { set: { x-wp-status: "\${response.status}" } }
`;

let dir: string;
let cp: ControlProcess;
let n1: NodeProcess;
let n2: NodeProcess;
let wp: WaypointProcess;
let echo: Server;
const cfg = (name: string) => join(dir, 'config', name);

/** A raw HTTP/1.0 GET through node-1's SOCKS5 to the VIP: the whole response text. */
async function rawGet(path: string): Promise<string> {
  const { socket, ready } = socksConnect({ proxy: `${N1}:15080`, localAddress: N1, ip: VIP, port: 80 });
  await ready;
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => (socket.destroy(), reject(new Error('timeout'))), 5000);
    socket.on('data', (d: Buffer) => (buf += d.toString('utf8')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(buf);
    });
    socket.write(`GET ${path} HTTP/1.0\r\nhost: echo.demo\r\n\r\n`);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-plugins-wp-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(
    cfg('mesh.yaml'),
    yamlDocs(
      ambientNamespace('demo'),
      workloadEntry({ name: 'client-1', namespace: 'demo', app: 'client', node: 'node-1', address: N1, serviceAccount: 'client' }),
      workloadEntry({ name: 'echo-2', namespace: 'demo', app: 'echo', node: 'node-2', address: N2, serviceAccount: 'echo' }),
      SERVICE,
    ),
  );
  writeFileSync(cfg('plugins.yaml'), PLUGIN);
  const applied = weftSync(['waypoint', 'apply', '-n', 'demo', '--name', 'waypoint', '--address', WP, '--config', join(dir, 'config')]);
  expect(applied.status, applied.stderr).toBe(0);
  echo = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, headers: req.headers }));
  });
  await new Promise<void>((r) => echo.listen(ECHO_PORT, N2, r));
  cp = await startControl(['--config', join(dir, 'config'), '--state', join(dir, 'state')]);
  [n1, n2, wp] = await startNodesAndWaypoint({ control: cp, state: join(dir, 'state'), namespace: 'demo', n1: N1, n2: N2, wp: WP });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([n1?.stop(), n2?.stop(), wp?.stop()]);
  await cp?.stop();
  echo?.close();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('an http-filter plugin on weft waypoint', () => {
  it('runs on mesh traffic through the waypoint: request header from the peer identity, response header from the status', async () => {
    await eventually(
      async () => JSON.parse((await wp.get(15000, '/config_dump')).body).plugins?.some((p: { name: string; state: string }) => p.name === 'demo.rewrite' && p.state === 'ready'),
      60_000,
      'the plugin ready on the waypoint',
    );
    const text = await eventually(
      async () => {
        const t = await rawGet('/via-plugin').catch(() => '');
        return /^HTTP\/1\.[01] 200/.test(t) ? t : undefined;
      },
      10_000,
      'a 200 through the waypoint',
    );
    const [head, body] = text.split('\r\n\r\n');
    expect(head).toMatch(/\r\nx-wp-status: 200\r\n/i);
    expect(JSON.parse(body!).headers['x-peer']).toBe(CLIENT);
    for (const n of [n1, n2]) expect(JSON.parse((await n.get(15000, '/config_dump')).body).plugins ?? []).toEqual([]);
  }, 80_000);
});
