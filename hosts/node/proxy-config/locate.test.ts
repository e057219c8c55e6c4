/**
 * Finding a proxy through `/debug/syncz` and reading its admin dump, against stub HTTP servers on
 * loopback (a stand-in control plane and node proxy admin port); `weft version`'s collection and
 * the control plane's `/version` endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpApi } from '../control/http-api.ts';
import { WEFT_VERSION } from '../version.ts';
import { adminAddress, hostOfPeer, locateProxy, parseTarget } from './locate.ts';
import { runProxyConfig } from './run.ts';
import { collectVersions, formatVersionReport } from './versions.ts';
import { cannedDump } from './test-support.ts';
import type { SynczEntry } from '../xds/connection.ts';

function serve(routes: Record<string, unknown>): Promise<{ server: Server; url: string; port: number }> {
  const server = createServer((req, res) => {
    const body = routes[req.url ?? ''];
    if (body === undefined) return void res.writeHead(404).end('no');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const port = (server.address() as AddressInfo).port;
    resolve({ server, url: `http://127.0.0.1:${port}`, port });
  }));
}

const entry = (node: string, metadata: Record<string, string>, peer = 'ipv4:127.0.0.1:40000'): SynczEntry =>
  ({ id: node, protocol: 'delta', peer, proxyType: 'node', connectedAt: '', caller: { kind: 'node', name: node }, node: { id: node, cluster: '', metadata, userAgent: 'weft', clientFeatures: [] }, types: {} }) as SynczEntry;

describe('locating a proxy', () => {
  let admin: Awaited<ReturnType<typeof serve>>;
  let control: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    admin = await serve({ '/config_dump': cannedDump().dump });
    control = await serve({
      '/debug/syncz': [entry('node1', { NODE_NAME: 'node1', WEFT_ADMIN: `127.0.0.1:${admin.port}`, WEFT_VERSION: '1.2.3' }), { ...entry('node2', { NODE_NAME: 'node2' }, 'ipv4:10.0.0.2:5555'), node: { id: 'node2', cluster: '', metadata: { NODE_NAME: 'node2' }, userAgent: 'weft/1.2.3', clientFeatures: [] } }],
      '/debug/configz': { workloads: [{ name: 'a', namespace: 'default', node: 'node1' }, { name: 'lost', namespace: 'default', node: 'node9' }] },
      '/version': { version: '9.9.9' },
    });
  });
  afterAll(() => {
    admin.server.close();
    control.server.close();
  });

  it('parses targets', () => {
    expect(parseTarget('node/n1')).toEqual({ kind: 'node', name: 'n1' });
    expect(parseTarget('curl-1.default')).toEqual({ kind: 'workload', name: 'curl-1', namespace: 'default' });
    expect(() => parseTarget('nodot')).toThrow(/name\.namespace/);
  });

  it('takes WEFT_ADMIN, reaches a wildcard bind at the peer address, and falls back to peer:15000', () => {
    expect(adminAddress(entry('n', { WEFT_ADMIN: '10.0.0.1:15000' }))).toBe('10.0.0.1:15000');
    expect(adminAddress(entry('n', { ADMIN_ADDRESS: '10.0.0.3:15001' }))).toBe('10.0.0.3:15001');
    expect(adminAddress(entry('n', { WEFT_ADMIN: '0.0.0.0:15000' }, 'ipv4:10.0.0.7:999'))).toBe('10.0.0.7:15000');
    expect(adminAddress(entry('n', {}, 'ipv6:[fd00::1]:999'))).toBe('[fd00::1]:15000');
    expect(hostOfPeer('10.1.2.3:4')).toBe('10.1.2.3');
  });

  it('finds a pod through its node, and a node by name', async () => {
    expect((await locateProxy(parseTarget('a.default'), control.url)).admin).toBe(`127.0.0.1:${admin.port}`);
    expect((await locateProxy(parseTarget('node/node2'), control.url)).admin).toBe('10.0.0.2:15000');
    await expect(locateProxy(parseTarget('lost.default'), control.url)).rejects.toThrow(/no node proxy for node node9.*connected: node1, node2/);
    await expect(locateProxy(parseTarget('ghost.default'), control.url)).rejects.toThrow(/no workload ghost\.default/);
  });

  it('prints a section from the located proxy, or from --admin directly', async () => {
    const viaControl = await runProxyConfig('workload', 'a.default', { controlHttp: control.url });
    expect(viaControl).toMatch(/^NAMESPACE POD NAME/);
    const direct = JSON.parse(await runProxyConfig('secret', undefined, { controlHttp: 'http://127.0.0.1:1', admin: `127.0.0.1:${admin.port}`, output: 'json' }));
    expect(direct.dynamicActiveSecrets[0].name).toBe('spiffe://cluster.local/ns/default/sa/a');
    await expect(runProxyConfig('secret', 'a.default', { controlHttp: 'http://127.0.0.1:1', timeoutMs: 1000 })).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:1\/debug\/syncz/);
  });

  it("collects versions as istioctl prints them, and tolerates an absent control plane", async () => {
    expect(formatVersionReport(await collectVersions('1.0.0', control.url, 1000))).toBe('client version: 1.0.0\ncontrol plane version: 9.9.9\ndata plane version: 1.2.3 (2 proxies)\n');
    const absent = await collectVersions('1.0.0', 'http://127.0.0.1:1', 500);
    expect(absent.problem).toMatch(/cannot reach/);
    expect(formatVersionReport(absent)).toBe('client version: 1.0.0\n');
  });
});

describe("the control plane's /version", () => {
  it('answers with its version', async () => {
    const server = createHttpApi({ snapshot: () => undefined, syncz: () => [], metrics: {} as never, ready: () => true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/version`);
      expect(await res.json()).toEqual({ version: WEFT_VERSION });
    } finally {
      server.close();
    }
  });
});
