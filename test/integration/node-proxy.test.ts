/**
 * `weft node` end to end on loopback, through the built bundle: a control plane and two node
 * proxies (node-a on 127.0.0.2, node-b on 127.0.0.3, capture off), WorkloadEntries on those
 * addresses (label weft.io/node) and an echo HTTP backend beside node-b. A client reaches the
 * echo Service's VIP over SOCKS5 on node-a; the bytes cross in HBONE (mutual TLS) to node-b,
 * which reports the client's principal. Policies, outbound traffic policy, DNS, /config_dump and
 * a control plane restart under traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually, startControl, weftSync, type ControlProcess } from '../support/weft-process.ts';
import { startNode, type NodeProcess } from '../support/node-process.ts';
import { socksHttpGet } from '../support/socks-client.ts';
import { ambientNamespace, service, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';

const run = promisify(execFile);
const VIP = '10.96.77.10';
const ECHO_PORT = 18180;
const OUTSIDE = { ip: '127.0.0.5', port: 18181 };
const CLIENT = 'spiffe://cluster.local/ns/demo/sa/client';

const MESH = yamlDocs(
  ambientNamespace('demo'),
  workloadEntry({ name: 'client-a', namespace: 'demo', app: 'client', node: 'node-a', address: '127.0.0.2', serviceAccount: 'client' }),
  workloadEntry({ name: 'other-a', namespace: 'demo', app: 'other', node: 'node-a', address: '127.0.0.4', serviceAccount: 'other' }),
  workloadEntry({ name: 'echo-b', namespace: 'demo', app: 'echo', node: 'node-b', address: '127.0.0.3', serviceAccount: 'echo' }),
  service({ name: 'echo', namespace: 'demo', app: 'echo', clusterIP: VIP, targetPort: ECHO_PORT }),
);

const meshConfigMap = (mode: string) => `apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    outboundTrafficPolicy:
      mode: ${mode}
`;

let dir: string;
let cp: ControlProcess;
let a: NodeProcess;
let b: NodeProcess;
const servers: Server[] = [];

const cfg = (name: string) => join(dir, 'config', name);
const startCp = (port?: string) => startControl(['--config', join(dir, 'config'), '--state', join(dir, 'state'), ...(port ? ['--secure-port', port] : [])]);

function echoServer(host: string, port: number, who: string): Promise<Server> {
  const s = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ who, path: req.url, method: req.method, remote: req.socket.remoteAddress }));
  });
  servers.push(s);
  return new Promise((r) => s.listen(port, host, () => r(s)));
}

async function curl(args: string[]): Promise<{ code: number; body: string }> {
  try {
    const r = await run('curl', ['-sS', '--max-time', '5', ...args], { timeout: 8000 });
    return { code: 0, body: r.stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, body: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

const viaA = (url: string, from = '127.0.0.2') => curl(['--socks5', '127.0.0.2:15080', '--interface', from, url]);

async function nodeProxy(name: string, listen: string): Promise<NodeProcess> {
  const token = weftSync(['token', 'create', '--node', name, '--state', join(dir, 'state')]).stdout.trim();
  return startNode({ control: cp.secure, rootCert: join(dir, 'state', 'root-cert.pem'), token, nodeName: name, listen });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-node-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(cfg('mesh.yaml'), MESH);
  writeFileSync(cfg('meshconfig.yaml'), meshConfigMap('ALLOW_ANY'));
  await echoServer('127.0.0.3', ECHO_PORT, 'echo-b');
  await echoServer(OUTSIDE.ip, OUTSIDE.port, 'outside');
  cp = await startCp();
  [a, b] = await Promise.all([nodeProxy('node-a', '127.0.0.2'), nodeProxy('node-b', '127.0.0.3')]);
  await Promise.all([a.waitReady(), b.waitReady()]);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await cp?.stop();
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('weft node on loopback', () => {
  it('carries a SOCKS5 client to the service VIP over HBONE, with the client identity on the far side', async () => {
    const r = await viaA(`http://${VIP}:80/hello`);
    expect(r.code, r.body).toBe(0);
    expect(JSON.parse(r.body)).toMatchObject({ who: 'echo-b', path: '/hello' });
    const line = await eventually(() => b.accessLog().find((l) => l.direction === 'inbound' && l.src?.identity === CLIENT), 5000, 'inbound access log on node-b');
    expect(line).toMatchObject({ connection_security_policy: 'mutual_tls', dst: { addr: `127.0.0.3:${ECHO_PORT}`, service: 'echo.demo.svc.cluster.local' } });
    const out = await eventually(() => a.accessLog().find((l) => l.direction === 'outbound' && l.dst?.hbone_addr === `127.0.0.3:${ECHO_PORT}`), 5000, 'outbound access log on node-a');
    expect(out.connection_security_policy).toBe('mutual_tls');
    const stats = (await b.get(15020, '/stats/prometheus')).body;
    const opened = stats.split('\n').find((l) => l.startsWith('istio_tcp_connections_opened_total{reporter="destination"') && l.includes(`source_principal="${CLIENT}"`));
    expect(opened).toContain('connection_security_policy="mutual_tls"');
    expect(opened).toContain('destination_service="echo.demo.svc.cluster.local"');
  });

  it('uses the only workload of the node for a loopback client (curl from 127.0.0.1 to node-b)', async () => {
    const r = await curl(['--socks5', '127.0.0.3:15080', `http://${VIP}:80/self`]);
    expect(r.code, r.body).toBe(0);
    expect(JSON.parse(r.body)).toMatchObject({ who: 'echo-b', path: '/self' });
  });

  it('answers the service FQDN on the DNS port', async () => {
    const res = new Resolver({ timeout: 2000, tries: 1 });
    res.setServers(['127.0.0.2:15053']);
    expect(await res.resolve4('echo.demo.svc.cluster.local')).toEqual([VIP]);
  });

  it('refuses under a DENY policy, then lets only the named principal in under ALLOW', async () => {
    writeFileSync(
      cfg('deny.yaml'),
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-client, namespace: demo }
spec:
  selector: { matchLabels: { app: echo } }
  action: DENY
  rules: [{ from: [{ source: { principals: [cluster.local/ns/demo/sa/client] } }] }]
`,
    );
    try {
      await eventually(async () => (await viaA(`http://${VIP}:80/`)).code !== 0, 8000, 'DENY in force');
      // each poll makes one more attempt, so the line is looked for after a refusal that surely came from the policy
      await eventually(async () => {
        if (b.accessLog().some((l) => l.response_flags === 'DENY' && l.authz?.decision === 'deny' && l.src?.identity === CLIENT)) return true;
        await viaA(`http://${VIP}:80/`);
        return false;
      }, 10_000, 'DENY logged on node-b');
    } finally {
      unlinkSync(cfg('deny.yaml'));
    }
    writeFileSync(
      cfg('allow.yaml'),
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-other, namespace: demo }
spec:
  selector: { matchLabels: { app: echo } }
  action: ALLOW
  rules: [{ from: [{ source: { principals: [cluster.local/ns/demo/sa/other] } }] }]
`,
    );
    try {
      await eventually(async () => (await viaA(`http://${VIP}:80/`, '127.0.0.4')).code === 0, 8000, 'other allowed');
      expect((await viaA(`http://${VIP}:80/`)).code).not.toBe(0);
    } finally {
      unlinkSync(cfg('allow.yaml'));
    }
    await eventually(async () => (await viaA(`http://${VIP}:80/`)).code === 0, 8000, 'policies gone');
  }, 40_000);

  it('passes an unknown destination under ALLOW_ANY and refuses it under REGISTRY_ONLY (MeshConfig over xDS)', async () => {
    const url = `http://${OUTSIDE.ip}:${OUTSIDE.port}/out`;
    const ok = await viaA(url);
    expect(ok.code, ok.body).toBe(0);
    expect(JSON.parse(ok.body).who).toBe('outside');
    writeFileSync(cfg('meshconfig.yaml'), meshConfigMap('REGISTRY_ONLY'));
    try {
      await eventually(async () => JSON.parse((await a.get(15000, '/config_dump')).body).mesh.outboundPolicy === 'REGISTRY_ONLY', 8000, 'REGISTRY_ONLY on node-a');
      expect((await viaA(url)).code).not.toBe(0);
      expect((await viaA(`http://${VIP}:80/`)).code).toBe(0); // the registry still works
    } finally {
      writeFileSync(cfg('meshconfig.yaml'), meshConfigMap('ALLOW_ANY'));
    }
    await eventually(async () => (await viaA(url)).code === 0, 8000, 'ALLOW_ANY again');
  }, 30_000);

  it('shows workloads, services and certificates without keys in /config_dump', async () => {
    const r = await a.get(15000, '/config_dump');
    expect(r.status).toBe(200);
    expect(r.body).not.toMatch(/PRIVATE KEY/);
    const d = JSON.parse(r.body);
    expect(d.node).toMatchObject({ name: 'node-a', listen: '127.0.0.2' });
    expect(d.xds.connected).toBe(true);
    expect(d.workloads.map((w: { name: string }) => w.name).sort()).toEqual(['client-a', 'echo-b', 'other-a']);
    expect(d.services.map((s: { hostname: string }) => s.hostname)).toContain('echo.demo.svc.cluster.local');
    const ids = d.certificates.map((c: { identity: string }) => c.identity).sort();
    expect(ids).toEqual([CLIENT, 'spiffe://cluster.local/ns/demo/sa/other']);
    for (const c of d.certificates) {
      expect(c.state).toBe('valid');
      expect(c.chainPems[0]).toMatch(/BEGIN CERTIFICATE/);
      expect(c).not.toHaveProperty('keyPem');
    }
  });

  it('keeps serving while the control plane is killed and restarted under traffic', async () => {
    const port = cp.secure.split(':').pop()!;
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const traffic = (async () => {
      while (!stop) {
        try {
          const body = await socksHttpGet({ proxy: '127.0.0.2:15080', localAddress: '127.0.0.2', ip: VIP, port: 80, path: '/loop' });
          if (JSON.parse(body).who === 'echo-b') ok++;
          else failures.push(body);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    cp.child.kill('SIGKILL');
    await new Promise((r) => cp.child.once('exit', r));
    await new Promise((r) => setTimeout(r, 1500));
    cp = await startCp(port);
    await eventually(async () => JSON.parse((await a.get(15000, '/config_dump')).body).xds.connected, 15_000, 'node-a reconnected');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await traffic;
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(10);
  }, 40_000);

  it('drains on SIGTERM', async () => {
    const code = await b.stop('SIGTERM');
    expect(code).toBe(0);
  }, 15_000);
});
