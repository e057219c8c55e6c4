import { createSecureContext, connect as tlsConnect } from 'node:tls';
import { connect as netConnect, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledListener } from '../../../core/route/listener-chains.ts';
import { openssl, tempDir } from '../ca/test-support.ts';
import { ListenerManager, type AcceptedConnection, type ServedSecret } from './listener-manager.ts';

const tmp = tempDir('weft-l7-listeners-');
const secrets = new Map<string, ServedSecret>();
function selfSigned(name: string, cn: string): void {
  const key = tmp.file(`${name}.key`);
  const cert = tmp.file(`${name}.crt`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`]);
  const certPem = openssl(['x509', '-in', cert]);
  const keyPem = openssl(['pkey', '-in', key]);
  secrets.set(`kubernetes://default/${name}`, { certPem, keyPem, context: createSecureContext({ cert: certPem, key: keyPem }) });
}

const hcm = (routeConfigName: string) => ({ routeConfigName, streamIdleTimeoutMs: 0, requestHeadersTimeoutMs: 0, idleTimeoutMs: 0, maxRequestHeadersKb: 60, maxHeadersCount: 100, useRemoteAddress: false, websocket: false, filters: [] });
const accepted: AcceptedConnection[] = [];
const manager = new ListenerManager({
  listenHost: '127.0.0.1',
  secret: (n) => secrets.get(n),
  onConnection: (c) => {
    accepted.push(c);
    c.socket.end(`${c.chain.hcm.routeConfigName}\n`);
  },
  log: () => {},
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}

function readAll(sock: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    sock.on('data', (d) => (out += d));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

function tlsGet(port: number, servername?: string): Promise<{ cn: string; body: string; alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const cn = String(s.getPeerCertificate().subject?.CN);
      const alpn = s.alpnProtocol ?? false;
      readAll(s).then((body) => resolve({ cn, body, alpn }), reject);
    });
    s.on('error', reject);
  });
}

let plainPort = 0;
let tlsPort = 0;
const plain = (): CompiledListener => ({ name: '0.0.0.0_http', address: '0.0.0.0', port: plainPort, tls: false, chains: [{ serverNames: [], alpn: [], hcm: hcm('http.1') }] });
const https = (): CompiledListener => ({
  name: '0.0.0.0_https',
  address: '0.0.0.0',
  port: tlsPort,
  tls: true,
  chains: [
    { serverNames: ['foo.example.com'], tlsSecret: 'kubernetes://default/foo', alpn: [], hcm: hcm('https.foo') },
    { serverNames: ['*.example.com'], tlsSecret: 'kubernetes://default/wild', alpn: [], hcm: hcm('https.wild') },
    { serverNames: [], tlsSecret: 'kubernetes://default/any', alpn: [], hcm: hcm('https.any') },
  ],
});

beforeAll(async () => {
  selfSigned('foo', 'foo.example.com');
  selfSigned('wild', 'wild.example.com');
  plainPort = await freePort();
  tlsPort = await freePort();
});
afterAll(async () => {
  await manager.close();
  tmp.cleanup();
});

describe('ListenerManager', () => {
  it('binds plain and TLS listeners; SNI picks the chain and its certificate; no SNI waits for the catch-all secret', async () => {
    await manager.reconcile([plain(), https()]);
    expect(manager.status().map((s) => s.state)).toEqual(['listening', 'listening']);
    expect(await readAll(netConnect(plainPort, '127.0.0.1'))).toBe('http.1\n');
    expect(await tlsGet(tlsPort, 'foo.example.com')).toEqual({ cn: 'foo.example.com', body: 'https.foo\n', alpn: 'h2' });
    expect(await tlsGet(tlsPort, 'bar.example.com')).toMatchObject({ cn: 'wild.example.com', body: 'https.wild\n' });
    // the catch-all's secret has not arrived: a handshake for it fails, the listener serves on
    await expect(tlsGet(tlsPort, 'other.org')).rejects.toThrow();
    selfSigned('any', 'any.example.org');
    manager.secretsChanged();
    expect(await tlsGet(tlsPort, 'other.org')).toMatchObject({ cn: 'any.example.org', body: 'https.any\n' });
    expect(await tlsGet(tlsPort)).toMatchObject({ cn: 'any.example.org', body: 'https.any\n' });
  });

  it('keeps a listener that stays (new chains for new connections), stops one that goes, reports a port it cannot bind', async () => {
    const changed = plain();
    changed.chains = [{ serverNames: [], alpn: [], hcm: hcm('http.2') }];
    const blocker = createServer();
    const busy = await freePort();
    await new Promise<void>((r) => blocker.listen(busy, '127.0.0.1', r));
    await manager.reconcile([changed, { ...plain(), name: 'busy', port: busy }]);
    expect(await readAll(netConnect(plainPort, '127.0.0.1'))).toBe('http.2\n');
    const st = manager.status();
    expect(st.find((s) => s.name === 'busy')).toMatchObject({ state: 'failed', error: expect.stringMatching(/EADDRINUSE/) });
    expect(st.some((s) => s.name === '0.0.0.0_https')).toBe(false);
    await expect(tlsGet(tlsPort, 'foo.example.com')).rejects.toThrow(/ECONNREFUSED/);
    await new Promise((r) => blocker.close(r));
    await manager.reconcile([changed, { ...plain(), name: 'busy', port: busy }]);
    expect(manager.status().find((s) => s.name === 'busy')?.state).toBe('listening');
  });
});
