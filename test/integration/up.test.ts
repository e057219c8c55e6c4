/**
 * `weft up` end to end: control plane, node proxy and gateway in one process on the embedded sample
 * mesh, with its in-process echo backends. A request through either ingress reaches a backend over
 * HBONE mTLS (the node proxy's metrics say mutual_tls), the rate-limit plugin is loaded and answers
 * 429 past its burst, and the sample's AuthorizationPolicy refuses a tunnel from namespace quarantine.
 * The sample's ingress and backend ports are moved by --port-offset (the rest are 0) so that the test
 * runs beside a `weft up` demo; HBONE's 15008 cannot move and must be free on 127.0.0.1.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaDir } from '../../hosts/node/ca/index.ts';
import { createKeyAndCsr } from '../../hosts/node/ca/csr.ts';
import { buildWorkloadCertificate, type WorkloadCertificate } from '../../hosts/node/certs/index.ts';
import { HboneClient } from '../../hosts/node/hbone/index.ts';
import { StaticCerts } from './hbone-fixtures.ts';
import { spawnWeft, type WeftChild } from '../support/weft-child.ts';
import { httpGet } from '../support/proxy-fixtures.ts';
import { eventually } from '../support/weft-process.ts';
import { DeltaXdsClient } from '../../hosts/node/xds/delta-client.ts';
import { TYPE_URL } from '../../core/xds/type-urls.ts';

const HELLO_HOST = process.platform === 'linux' ? '127.0.0.2' : '127.0.0.1';
const dir = mkdtempSync(join(tmpdir(), 'weft-up-'));
const state = join(dir, 'state');
let up: WeftChild<{ readyMs: number; rssMb: number; stats: string; admin: string; http: string }>;
let offset = 0;

function free(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** An offset that frees the sample's four ports (ingress on loopback, backends on their hosts). */
async function pickOffset(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const o = 100 + Math.floor(Math.random() * 400) * 10;
    const ok = await Promise.all([free(8080 + o, '127.0.0.1'), free(8081 + o, '127.0.0.1'), free(18080 + o, '127.0.0.1'), free(18081 + o, HELLO_HOST)]);
    if (ok.every(Boolean)) return o;
  }
  throw new Error('no free port offset for the sample');
}

const get = (port: number, path: string, headers: Record<string, string> = {}) => httpGet({ host: '127.0.0.1', port, path, headers, textIfNotJson: true });

beforeAll(async () => {
  for (const h of new Set(['127.0.0.1', HELLO_HOST])) {
    if (!(await free(15008, h))) throw new Error(`${h}:15008 is taken (another weft node or weft up?): weft up needs it for HBONE`);
  }
  offset = await pickOffset();
  const zero = ['--xds-port', '--secure-port', '--http-port', '--admin-port', '--stats-port', '--ready-port', '--socks-port', '--dns-port'].flatMap((f) => [f, '0']);
  up = await spawnWeft(['up', '--state', state, '--port-offset', String(offset), ...zero], {
    what: 'weft up',
    timeoutMs: 20_000,
    banner: (out) => {
      const ready = /ready in (\d+) ms \(RSS (\d+) MB\)/.exec(out);
      const stats = /stats\s+(http:\/\/\S+)/.exec(out);
      const admin = /admin\s+(http:\/\/\S+)\/config_dump/.exec(out);
      const http = /(http:\/\/[\d.]+:\d+)\/debug\/configz/.exec(out);
      if (!ready || !stats || !admin || !http || !out.includes('Next, try:')) return undefined;
      return { readyMs: Number(ready[1]), rssMb: Number(ready[2]), stats: stats[1]!, admin: admin[1]!, http: http[1]! };
    },
  });
}, 30_000);

afterAll(async () => {
  await up?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('weft up', () => {
  it('gets ready fast and says so, with the next commands to try', () => {
    console.log(`weft up: ready in ${up.banner.readyMs} ms, RSS at ready ${up.banner.rssMb} MB`);
    expect(up.banner.readyMs).toBeLessThan(3000);
    const out = up.stdout();
    expect(out).toContain(`http://127.0.0.1:${8080 + offset}/echo`);
    expect(out).toContain(`http://127.0.0.1:${8081 + offset}/echo`);
    expect(out).toMatch(/proxy-config policy node\/local/);
  });

  it('routes the Istio ingress to the echo backend over HBONE mTLS', async () => {
    const r = await get(8080 + offset, '/echo/hi?x=1', { host: 'demo.example' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ service: 'echo', path: '/echo/hi?x=1', method: 'GET', host: 'demo.example' });
    const stats = await (await fetch(up.banner.stats)).text();
    const line = stats.split('\n').find((l) => l.startsWith('istio_tcp_connections_opened_total{') && l.includes('reporter="destination"') && l.includes('destination_workload="echo-1"'));
    expect(line).toContain('connection_security_policy="mutual_tls"');
    expect(line).toContain('source_principal="spiffe://cluster.local/ns/demo/sa/istio-ingressgateway"');
  });

  it('routes the Gateway API listener to both services', async () => {
    const hello = await get(8081 + offset, '/hello/there');
    expect(hello.status).toBe(200);
    expect(hello.json).toMatchObject({ service: 'hello', path: '/hello/there', backend: `${HELLO_HOST}:${18081 + offset}` });
    const echo = await get(8081 + offset, '/echo');
    expect(echo.json).toMatchObject({ service: 'echo' });
    expect((await get(8081 + offset, '/nowhere')).status).toBe(404);
  });

  it('serves one config_dump per proxy, found by weft proxy-config', async () => {
    const node = (await (await fetch(`${up.banner.admin}/config_dump`)).json()) as Record<string, unknown>;
    expect(JSON.stringify(node)).toContain('echo-1');
    type GwDump = { name: string; plugins: { name: string; state: string }[] };
    const gw = await eventually(async () => {
      const d = (await (await fetch(`${up.banner.admin}/gateway/config_dump`)).json()) as GwDump;
      return d.plugins[0]?.state === 'ready' ? d : undefined;
    }, 10_000, 'the rate-limit plugin loaded');
    expect(gw.name).toBe('demo/istio-ingressgateway');
    expect(gw.plugins).toEqual([expect.objectContaining({ name: 'demo.rate-limit', state: 'ready' })]);
    const syncz = (await (await fetch(`${up.banner.http}/debug/syncz`)).json()) as { node: { metadata: Record<string, unknown> }; types: Record<string, { status: string }> }[];
    expect(syncz).toHaveLength(2);
    for (const s of syncz) for (const t of Object.values(s.types)) expect(t.status).toBe('ACKED');
  });

  it('the rate-limit plugin answers 429 past its burst (200, then 100 per second)', async () => {
    const codes = new Map<number, number>();
    const all: Promise<void>[] = [];
    // 600 requests on 50 keep-alive connections: far faster than the bucket refills
    for (let i = 0; i < 50; i++) {
      all.push(
        (async () => {
          for (let j = 0; j < 12; j++) {
            const r = await fetch(`http://127.0.0.1:${8080 + offset}/echo/${i}-${j}`);
            await r.arrayBuffer();
            codes.set(r.status, (codes.get(r.status) ?? 0) + 1);
          }
        })(),
      );
    }
    await Promise.all(all);
    expect(codes.get(429) ?? 0).toBeGreaterThan(0);
    expect(codes.get(200) ?? 0).toBeGreaterThanOrEqual(200);
    const stats = await (await fetch(up.banner.stats)).text();
    expect(stats).toMatch(/weft_plugin_calls_total\{plugin="demo\.rate-limit",result="ok"\} \d{3}/);
  });

  it('the AuthorizationPolicy refuses a tunnel from namespace quarantine, and lets demo in', async () => {
    const ca = await loadCaDir(state);
    const rootPem = readFileSync(join(state, 'root-cert.pem'), 'utf8');
    const certFor = (identity: string): WorkloadCertificate => {
      const { keyPem, csrPem } = createKeyAndCsr(identity);
      const chain = ca.sign(csrPem, { identity, validitySeconds: 600, trustDomains: ['cluster.local'] });
      return buildWorkloadCertificate({ identity, keyPem, chainPems: chain, rootPems: [rootPem] });
    };
    const tunnel = async (identity: string): Promise<unknown> => {
      const cert = certFor(identity);
      const c = new HboneClient({ certificates: new StaticCerts().set(cert), trustDomains: ['cluster.local'], connectTimeoutMs: 3000 });
      try {
        const t = await c.connect({ sourceIdentity: identity, destination: { ip: '127.0.0.1', port: 15008 }, expectedIdentities: ['spiffe://cluster.local/ns/demo/sa/echo'], authority: `127.0.0.1:${18080 + offset}` });
        t.stream.destroy();
        return 'open';
      } catch (e) {
        return e;
      } finally {
        c.close();
      }
    };
    expect(await tunnel('spiffe://cluster.local/ns/demo/sa/client')).toBe('open');
    const denied = await tunnel('spiffe://cluster.local/ns/quarantine/sa/intruder');
    expect(denied).toBeInstanceOf(Error);
    const deny = await eventually(() => up.accessLog().find((l) => JSON.stringify(l).includes('ns/quarantine/sa/intruder')), 3000, 'the deny in the access log');
    expect(deny.authz?.decision, JSON.stringify(deny)).toBe('deny');
  });

  it('reports its idle RSS', async () => {
    await new Promise((r) => setTimeout(r, 500));
    const status = readFileSync(`/proc/${up.child.pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    console.log(`weft up: RSS after the tests ${Math.round(rssKb / 1024)} MB`);
    expect(rssKb).toBeGreaterThan(0);
  });

  it('serves xDS on its plaintext port to a proxy outside the process (gRPC made on the first connection)', async () => {
    const xds = /xDS 127\.0\.0\.1:(\d+) \(plaintext\)/.exec(up.stdout());
    expect(xds).not.toBeNull();
    const client = new DeltaXdsClient({
      address: `127.0.0.1:${xds![1]}`,
      node: { id: 'ztunnel~127.0.0.1~outside.demo~demo.svc.cluster.local', metadata: { NODE_NAME: 'outside' } },
      subscriptions: [{ typeUrl: TYPE_URL.address }],
      backoff: { initialMs: 50, maxMs: 200 },
    });
    try {
      client.start();
      const name = await eventually(() => [...client.resources(TYPE_URL.address).keys()].find((n) => n.includes('/demo/')), 10_000, 'the sample\'s workloads over xDS');
      expect(name).toMatch(/WorkloadEntry\/demo\//);
    } finally {
      client.close();
    }
  });
});
