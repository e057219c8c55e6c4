/**
 * `weft control` end to end, through the built bundle: the HTTP API, join tokens, the CA and xDS on
 * the TLS port with a token, a file change reaching a connected client, a bad file keeping the last
 * good config with the error in status, a NACK in status, and the state directory reused on restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { DeltaXdsClient } from '../../hosts/node/xds/delta-client.ts';
import { TYPE_URL } from '../../core/xds/type-urls.ts';
import { caClientConstructor, impersonationMetadata } from '../../hosts/node/ca/ca-api.ts';
import { createKeyAndCsr } from '../../hosts/node/ca/csr.ts';
import { verifyChain, x509Text } from '../../hosts/node/ca/test-support.ts';
import { startControl, weftSync, eventually, type ControlProcess } from '../support/weft-process.ts';

const CONTROL_ID = 'spiffe://cluster.local/ns/weft-system/sa/weft-control';

const workloadEntry = (name: string, address: string, node: string) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${name}
  namespace: demo
  labels: { app: echo, weft.io/node: ${node} }
spec:
  address: ${address}
  serviceAccount: echo
`;

const MESH = {
  'namespace.yaml': `apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels: { istio.io/dataplane-mode: ambient }
`,
  'echo.yaml': `apiVersion: v1
kind: Service
metadata: { name: echo, namespace: demo }
spec:
  clusterIP: 10.96.0.10
  selector: { app: echo }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
${workloadEntry('echo-a', '127.0.0.2', 'node-a')}---
${workloadEntry('echo-b', '127.0.0.3', 'node-b')}`,
};

let dir: string;
let cp: ControlProcess;
const clients: DeltaXdsClient[] = [];

function config(file: string): string {
  return join(dir, 'config', file);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-control-it-'));
  mkdirSync(join(dir, 'config'));
  for (const [name, text] of Object.entries(MESH)) writeFileSync(config(name), text);
  cp = await startControl(['--config', join(dir, 'config'), '--state', join(dir, 'state')]);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function token(node: string): string {
  const r = weftSync(['token', 'create', '--node', node, '--state', join(dir, 'state')]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

function secureClient(opts: { token?: string; validate?: () => string | undefined; nodeName?: string }): DeltaXdsClient {
  const c = new DeltaXdsClient({
    address: cp.secure,
    tls: { rootCert: readFileSync(join(dir, 'state', 'root-cert.pem')), serverIdentity: CONTROL_ID },
    ...(opts.token ? { token: opts.token } : {}),
    node: { id: `ztunnel~127.0.0.1~weft-node.weft-system~weft-system.svc.cluster.local`, metadata: { NODE_NAME: opts.nodeName ?? 'node-a' } },
    subscriptions: [{ typeUrl: TYPE_URL.address }],
    backoff: { initialMs: 50, maxMs: 200 },
    ...(opts.validate ? { validate: opts.validate } : {}),
  });
  clients.push(c);
  return c.start();
}

async function getJson(path: string): Promise<any> {
  const res = await fetch(`${cp.http}${path}`);
  expect(res.status).toBe(200);
  return res.json();
}

describe('weft control', () => {
  it('serves readiness, the snapshot, status and metrics on the HTTP port', async () => {
    expect((await fetch(`${cp.http}/ready`)).status).toBe(200);
    const configz = await getJson('/debug/configz');
    expect(configz.services.map((s: { hostname: string }) => s.hostname)).toEqual(['echo.demo.svc.cluster.local']);
    expect(configz.workloads).toHaveLength(2);
    expect((await getJson('/debug/status')).errors).toEqual([]);
    const metrics = await (await fetch(`${cp.http}/metrics`)).text();
    expect(metrics).toContain('weft_config_version');
    expect(metrics).toContain('citadel_server_csr_count');
  });

  it('refuses xDS on the TLS port without a join token', async () => {
    const c = secureClient({});
    const err = await new Promise<Error>((resolve) => c.once('disconnected', resolve));
    expect(err.message).toMatch(/join token/);
    c.close();
  });

  it('refuses a node proxy whose node name differs from its token', async () => {
    const c = secureClient({ token: token('node-a'), nodeName: 'node-b' });
    const err = await new Promise<Error>((resolve) => c.once('disconnected', resolve));
    expect(err.message).toMatch(/node-b differs from the join token's node node-a/);
    c.close();
  });

  it('serves the workload API over TLS to a node proxy with a token, and follows a file change', async () => {
    const c = secureClient({ token: token('node-a') });
    await eventually(() => c.resources(TYPE_URL.address).size === 3, 10_000, 'initial workload API state');
    const before = c.version(TYPE_URL.address);
    const changed = new Promise<string[]>((resolve) => c.on('update', (u) => resolve(u.resources.map((r: { name: string }) => r.name))));
    writeFileSync(config('echo.yaml'), MESH['echo.yaml'].replace('127.0.0.3', '127.0.0.4'));
    const names = await changed;
    expect(names).toEqual(['Kubernetes/networking.istio.io/WorkloadEntry/demo/echo-b']);
    expect(Number(c.version(TYPE_URL.address))).toBeGreaterThan(Number(before));
  });

  it('keeps the last good config when a file turns bad, and shows the error with file, line, resource and field', async () => {
    const good = (await getJson('/debug/configz')).version;
    writeFileSync(config('echo.yaml'), MESH['echo.yaml'].replace('port: 80,', 'port: 80000,').replace('127.0.0.3', '127.0.0.4'));
    const status = await eventually(async () => {
      const s = await getJson('/debug/status');
      return s.errors.length ? s : undefined;
    }, 5000, 'the error in /debug/status');
    expect(status.errors[0].text).toBe('echo.yaml:7: Service demo/echo: spec.ports[0].port: must be 1..65535');
    const configz = await getJson('/debug/configz');
    expect(configz.version).toBe(good);
    expect(configz.services[0].ports[0].port).toBe(80);
    // the file is mended: the error goes and the config moves on
    writeFileSync(config('echo.yaml'), MESH['echo.yaml'].replace('port: 80,', 'port: 81,'));
    await eventually(async () => (await getJson('/debug/configz')).services[0].ports[0].port === 81, 5000, 'the mended file');
    expect((await getJson('/debug/status')).errors).toEqual([]);
  });

  it('shows a NACK in /debug/status and keeps serving the proxy', async () => {
    const c = secureClient({ token: token('node-a'), validate: () => 'refused by the test' });
    await new Promise((resolve) => c.once('nack', resolve));
    const status = await eventually(async () => {
      const s = await getJson('/debug/status');
      return s.nacks.length ? s : undefined;
    }, 5000, 'the NACK in /debug/status');
    expect(JSON.stringify(status.nacks[0])).toContain('refused by the test');
    const syncz = await getJson('/debug/syncz');
    expect(syncz.length).toBeGreaterThanOrEqual(2);
    c.close();
  });

  it('issues a workload certificate over TLS to a node proxy for a workload on its node', async () => {
    const Client = caClientConstructor();
    const client = new Client(cp.secure, credentials.createSsl(readFileSync(join(dir, 'state', 'root-cert.pem')), null, null, {
      checkServerIdentity: (_h, cert) => ((cert.subjectaltname ?? '').includes(`URI:${CONTROL_ID}`) ? undefined : new Error('wrong server')),
    }), { 'grpc.ssl_target_name_override': 'weft-control' });
    const identity = 'spiffe://cluster.local/ns/demo/sa/echo';
    const { csrPem } = createKeyAndCsr(identity);
    const call = (node: string) =>
      new Promise<{ err: ServiceError | null; chain?: string[] }>((resolve) => {
        const md = new Metadata();
        md.set('authorization', `Bearer ${token(node)}`);
        client.CreateCertificate({ csr: csrPem, validityDuration: 3600, metadata: impersonationMetadata(identity) }, md, (err, res) => resolve({ err, chain: res?.certChain ?? [] }));
      });
    const ok = await call('node-a');
    expect(ok.err).toBeNull();
    const root = readFileSync(join(dir, 'state', 'root-cert.pem'), 'utf8');
    expect(verifyChain(ok.chain!, root).ok).toBe(true);
    expect(x509Text(ok.chain![0]!)).toContain(`URI:${identity}`);
    // node-c hosts no workload with that identity
    const refused = await call('node-c');
    expect(refused.err?.details).toMatch(/node-c/);
    client.close();
  });

  it('reuses its CA from the state directory after a restart', async () => {
    const root = readFileSync(join(dir, 'state', 'root-cert.pem'), 'utf8');
    await cp.stop();
    cp = await startControl(['--config', join(dir, 'config'), '--state', join(dir, 'state')]);
    expect(readFileSync(join(dir, 'state', 'root-cert.pem'), 'utf8')).toBe(root);
    expect((await fetch(`${cp.http}/ready`)).status).toBe(200);
  });
});

describe('weft analyze and weft token', () => {
  it('analyze exits non-zero on errors and names file, line, resource and field', () => {
    const bad = mkdtempSync(join(tmpdir(), 'weft-analyze-'));
    writeFileSync(join(bad, 'vs.yaml'), `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: v1 }
      weight: 50
    - destination: { host: reviews, subset: v2 }
      weight: 150
`);
    const r = weftSync(['analyze', bad]);
    rmSync(bad, { recursive: true, force: true });
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toContain('vs.yaml:11: VirtualService default/reviews: spec.http[0].route[1].weight: must be 0..100');
  });

  it('token create fails clearly without a state directory key', () => {
    const empty = mkdtempSync(join(tmpdir(), 'weft-token-'));
    const r = weftSync(['token', 'create', '--node', 'n1', '--state', empty]);
    rmSync(empty, { recursive: true, force: true });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/key/i);
  });
});

describe('weft control --cacerts', () => {
  it('signs with a plugged-in intermediate, so two clusters share one root', async () => {
    const d = mkdtempSync(join(tmpdir(), 'weft-cacerts-'));
    try {
      expect(weftSync(['ca', 'root', '--out', join(d, 'root'), '--org', 'Example Corp']).status).toBe(0);
      for (const c of ['east', 'west']) expect(weftSync(['ca', 'intermediate', '--root', join(d, 'root'), '--name', c, '--out', join(d, c)]).status).toBe(0);
      mkdirSync(join(d, 'config'));
      for (const [name, text] of Object.entries(MESH)) writeFileSync(join(d, 'config', name), text);
      const east = await startControl(['--config', join(d, 'config'), '--state', join(d, 'state'), '--cacerts', join(d, 'east')]);
      try {
        expect(east.stdout()).toContain(`root certificate: ${join(d, 'east', 'root-cert.pem')}`);
        const tok = weftSync(['token', 'create', '--node', 'node-a', '--state', join(d, 'state')]).stdout.trim();
        const Client = caClientConstructor();
        const client = new Client(east.secure, credentials.createSsl(readFileSync(join(d, 'root', 'root-cert.pem'))), { 'grpc.ssl_target_name_override': 'weft-control.weft-system.svc' });
        const identity = 'spiffe://cluster.local/ns/demo/sa/echo';
        const md = new Metadata();
        md.set('authorization', `Bearer ${tok}`);
        const chain = await new Promise<string[]>((resolve, reject) =>
          client.CreateCertificate({ csr: createKeyAndCsr(identity).csrPem, metadata: impersonationMetadata(identity) }, md, (err, res) => (err ? reject(err) : resolve(res!.certChain ?? []))),
        );
        client.close();
        const sharedRoot = readFileSync(join(d, 'root', 'root-cert.pem'), 'utf8');
        expect(chain).toHaveLength(3);
        expect(chain[2]!.trim()).toBe(sharedRoot.trim());
        expect(verifyChain(chain, sharedRoot).ok).toBe(true);
        expect(x509Text(chain[0]!)).toMatch(/Issuer:.*O ?= ?Weft/);
      } finally {
        await east.stop();
      }
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
