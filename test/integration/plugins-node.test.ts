/**
 * An l4-policy WasmPlugin on `weft node` through the built bundle: a control plane and two node
 * proxies on their own loopback addresses (node-a 127.0.5.2 with two clients of different service
 * accounts, node-b 127.0.5.3 with the `hold` workload). The built-in l4-allow-list, selected for
 * `app: hold`, lets only the `client` principal in: the other client's CONNECT is refused by
 * node-b after the mesh's own L4 authorization allowed it (DENY with the plugin's name in the
 * access log, counted), the listed one gets through. A node proxy without plugins never loads the
 * runtime (node-a's /config_dump lists none).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startControl, weftSync, type ControlProcess } from '../support/weft-process.ts';
import { startNode, type NodeProcess } from '../support/node-process.ts';
import { ambientNamespace, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';

const NS = 'plg';
const PORT = 18191;
const CLIENT_IP = '127.0.5.2';
const OTHER_IP = '127.0.5.4';
const B_IP = '127.0.5.3';
const CLIENT = `spiffe://cluster.local/ns/${NS}/sa/client`;
const OTHER = `spiffe://cluster.local/ns/${NS}/sa/other`;

const MESH = yamlDocs(
  ambientNamespace(NS),
  workloadEntry({ name: 'client-a', namespace: NS, app: 'client', node: 'node-a', address: CLIENT_IP, serviceAccount: 'client' }),
  workloadEntry({ name: 'other-a', namespace: NS, app: 'other', node: 'node-a', address: OTHER_IP, serviceAccount: 'other' }),
  workloadEntry({ name: 'hold-b', namespace: NS, app: 'hold', node: 'node-b', address: B_IP, serviceAccount: 'hold' }),
);

const PLUGIN = `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: allow-client, namespace: ${NS} }
spec:
  type: NETWORK
  selector: { matchLabels: { app: hold } }
  url: file:///builtin/l4-allow-list.wasm
  failStrategy: FAIL_CLOSE
  pluginConfig: { principals: [${CLIENT}] }
`;

let dir: string;
let cp: ControlProcess;
let a: NodeProcess;
let b: NodeProcess;
let server: Server;
const sockets: Socket[] = [];

/** A SOCKS5 CONNECT through node-a's 15080 from `from` to hold-b; resolves with the greeting, rejects on a refusal. */
function greet(from: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: CLIENT_IP, port: 15080, localAddress: from });
    sockets.push(s);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('SOCKS5 timed out'));
    }, timeoutMs);
    let stage = 0;
    let buf = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        buf = buf.subarray(2);
        stage = 1;
        s.write(Buffer.from([5, 1, 0, 1, ...B_IP.split('.').map(Number), PORT >> 8, PORT & 255]));
      }
      if (stage === 1 && buf.length >= 10) {
        if (buf[1] !== 0) {
          clearTimeout(timer);
          s.destroy();
          return reject(new Error(`SOCKS5 reply ${buf[1]}`));
        }
        buf = buf.subarray(10);
        stage = 2;
      }
      const nl = buf.indexOf('\n');
      if (stage === 2 && nl >= 0) {
        clearTimeout(timer);
        resolve(buf.subarray(0, nl).toString());
        s.destroy();
      }
    });
    s.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`closed before the greeting (stage ${stage})`));
    });
  });
}

async function nodeProxy(name: string, listen: string): Promise<NodeProcess> {
  const token = weftSync(['token', 'create', '--node', name, '--state', join(dir, 'state')]).stdout.trim();
  return startNode({ control: cp.secure, rootCert: join(dir, 'state', 'root-cert.pem'), token, nodeName: name, listen });
}

const dump = async (n: NodeProcess) => JSON.parse((await n.get(15000, '/config_dump')).body);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-plugins-node-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config', 'mesh.yaml'), MESH);
  writeFileSync(join(dir, 'config', 'plugins.yaml'), PLUGIN);
  server = createServer((sock) => {
    sockets.push(sock);
    sock.on('error', () => {});
    sock.end('hold-b\n');
  });
  await new Promise<void>((r) => server.listen(PORT, B_IP, r));
  cp = await startControl(['--config', join(dir, 'config'), '--state', join(dir, 'state')]);
  [a, b] = await Promise.all([nodeProxy('node-a', CLIENT_IP), nodeProxy('node-b', B_IP)]);
  await Promise.all([a.waitReady(30_000), b.waitReady(30_000)]);
}, 90_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await cp?.stop();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('weft node: an l4-policy plugin', () => {
  it('loads on the node of the workload it selects, and only there', async () => {
    const d = await eventually(
      async () => {
        const x = await dump(b);
        return x.plugins?.some((p: { name: string; state: string }) => p.name === `${NS}.allow-client` && p.state === 'ready') ? x : undefined;
      },
      60_000,
      'the plugin ready on node-b',
    );
    expect(d.plugins).toHaveLength(1);
    expect((await dump(a)).plugins ?? []).toEqual([]);
  }, 70_000);

  it('refuses the principal it does not list (DENY with the plugin in the access log, counted) and admits the listed one', async () => {
    expect(await greet(CLIENT_IP)).toBe('hold-b');
    await expect(greet(OTHER_IP)).rejects.toThrow(/SOCKS5 reply|closed before/);
    const line = await eventually(() => b.accessLog().find((l) => l.response_flags === 'DENY' && l.authz?.policy === `plugin/${NS}.allow-client`), 5000, 'the plugin DENY logged on node-b');
    expect(line.src.identity).toBe(OTHER);
    expect(line.error).toMatch(/allow-client/);
    const stats = (await b.get(15020, '/stats/prometheus')).body;
    expect(stats).toMatch(new RegExp(`weft_plugin_connections_denied_total\\{plugin="${NS}.allow-client"\\} 1`));
    expect(stats).toMatch(new RegExp(`weft_plugin_calls_total\\{plugin="${NS}.allow-client",result="ok"\\} [1-9]`));
    expect(stats.split('\n').some((l) => l.startsWith('istio_tcp_connections_closed_total{') && l.includes('response_flags="DENY"') && l.includes(`source_principal="${OTHER}"`))).toBe(true);
  }, 30_000);
});
