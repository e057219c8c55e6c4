/**
 * HBONE refusals, each clean and each followed by a good tunnel on the same server: a client chain
 * from another root, an expired client certificate, a wrong trust domain, no client certificate, a
 * server identity the client did not expect (and a server from another root), plain HTTP/1.1 and
 * raw bytes on 15008, TLS 1.2, TLS without h2, a non-CONNECT request (400), a malformed `:authority`
 * (400). The reasons reach the client (GOAWAY debug data, 400 bodies) and the server's 'refused' events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { connect as h2connect } from 'node:http2';
import { HboneClient, HboneError } from '../../hosts/node/hbone/index.ts';
import { StaticCerts, echoBackend, meshPki, roundTrip, startHboneServer, type TestServer } from './hbone-fixtures.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/a/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/b/sa/server';
const pki = meshPki();
const other = meshPki('cluster.local');
const good = pki.issue(CLIENT_ID);
const serverCert = pki.issue(SERVER_ID);
let srv: TestServer;
let echo: Awaited<ReturnType<typeof echoBackend>>;

function clientWith(cert = good): HboneClient {
  return new HboneClient({ certificates: new StaticCerts().set(cert), trustDomains: ['cluster.local'], connectTimeoutMs: 3000 });
}

async function tunnelError(cert: typeof good, o: { expected?: string[]; authority?: string; identity?: string; port?: number } = {}): Promise<HboneError> {
  const c = clientWith(cert);
  try {
    const t = await c.connect({ sourceIdentity: o.identity ?? cert.identity, destination: { ip: '127.0.0.1', port: o.port ?? srv.port }, expectedIdentities: o.expected ?? [SERVER_ID], authority: o.authority ?? `127.0.0.1:${echo.port}` });
    t.stream.destroy();
    throw new Error('the tunnel opened');
  } catch (err) {
    if (!(err instanceof HboneError)) throw err;
    return err;
  } finally {
    c.close(true);
  }
}

/** The server still serves a good client after a refusal. */
async function stillServes(): Promise<void> {
  const c = clientWith();
  const t = await c.connect({ sourceIdentity: CLIENT_ID, destination: { ip: '127.0.0.1', port: srv.port }, expectedIdentities: [SERVER_ID], authority: `127.0.0.1:${echo.port}` });
  expect((await roundTrip(t.stream, 'still here')).toString()).toBe('still here');
  c.close();
}

function rawExchange(data: Buffer | string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port: srv.port });
    let text = '';
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => resolve({ text, closed: true }));
    s.write(data);
  });
}

beforeAll(async () => {
  echo = await echoBackend();
  srv = await startHboneServer({ certificate: () => serverCert });
});

afterAll(async () => {
  await srv.close();
  echo.server.close();
});

describe('HBONE refusals', () => {
  it('refuses a client chain from another root, saying so', async () => {
    const foreign = other.issue(CLIENT_ID, { trustRoots: [pki.rootPem] });
    const err = await tunnelError(foreign);
    expect(err.reason).toBe('peer-refused');
    expect(err.message).toMatch(/not signed by this mesh root|root this mesh does not trust/);
    expect(srv.refusals.at(-1)).toMatchObject({ stage: 'connection', reason: 'untrusted-chain' });
    await stillServes();
  });

  it('refuses an expired client certificate', async () => {
    const expired = pki.issue(CLIENT_ID, { now: Date.now() - 86_400_000, validitySeconds: 3600 });
    const err = await tunnelError(expired);
    expect(err.reason).toBe('peer-refused');
    expect(err.message).toMatch(/expired/);
    expect(srv.refusals.at(-1)).toMatchObject({ reason: 'expired' });
    await stillServes();
  });

  it('refuses a SPIFFE id outside the accepted trust domains', async () => {
    const id = 'spiffe://evil.example/ns/a/sa/client';
    const err = await tunnelError(pki.issue(id, { trustDomains: ['evil.example'] }));
    expect(err.reason).toBe('peer-refused');
    expect(err.message).toContain('spiffe://evil.example/ns/a/sa/client');
    expect(err.message).toMatch(/trust domain/);
    await stillServes();
  });

  it('refuses a server that is not the expected identity, naming what it presented', async () => {
    const err = await tunnelError(good, { expected: ['spiffe://cluster.local/ns/b/sa/someone-else'] });
    expect(err.reason).toBe('peer-identity');
    expect(err.message).toContain(`presented ${SERVER_ID}`);
    expect(err.message).toContain('someone-else');
    await stillServes();
  });

  it('refuses a server whose chain is from another root', async () => {
    const rogue = await startHboneServer({ certificate: () => other.issue(SERVER_ID) });
    try {
      const err = await tunnelError(good, { port: rogue.port });
      expect(err.reason).toBe('peer-identity');
      expect(err.message).toMatch(/mesh root/);
    } finally {
      await rogue.close();
    }
  });

  it('refuses a TLS client without a certificate', async () => {
    const reason = await new Promise<string>((resolve) => {
      const s = h2connect(`https://127.0.0.1:${srv.port}`, { ca: pki.rootPem, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
      s.on('error', () => {});
      s.on('goaway', (_code: number, _last: number, data?: Buffer) => resolve(data?.toString() ?? ''));
    });
    expect(reason).toMatch(/sent no certificate|client chain refused/);
    await stillServes();
  });

  it('answers plain HTTP/1.1 on 15008 with a 400 and closes', async () => {
    const r = await rawExchange('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(r.text).toMatch(/^HTTP\/1.1 400 Bad Request/);
    expect(r.text).toContain('HBONE');
    expect(srv.refusals.at(-1)).toMatchObject({ reason: 'not-tls' });
    await stillServes();
  });

  it('closes on raw bytes and on a truncated ClientHello', async () => {
    expect((await rawExchange(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x42]))).closed).toBe(true);
    const truncated = await Promise.race([rawExchange(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])), new Promise<{ closed: boolean }>((r) => setTimeout(() => r({ closed: false }), 8000))]);
    expect(truncated.closed).toBe(true);
    await stillServes();
  });

  it('refuses TLS 1.2 and TLS without ALPN h2', async () => {
    const tls12 = await new Promise<string>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: srv.port, maxVersion: 'TLSv1.2', key: good.keyPem, cert: good.chainPems[0], ca: pki.rootPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
      s.on('error', (e) => resolve(e.message));
      s.on('secureConnect', () => resolve('connected'));
    });
    expect(tls12).toMatch(/protocol version|alert/i);
    const noAlpn = await new Promise<string>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: srv.port, key: good.keyPem, cert: good.chainPems[0], ca: pki.rootPem, checkServerIdentity: () => undefined });
      let text = '';
      s.on('data', (d) => (text += d));
      s.on('error', () => resolve(text));
      s.on('close', () => resolve(text));
    });
    expect(noAlpn).toMatch(/^HTTP\/1.1 400/);
    await stillServes();
  });

  it('answers a non-CONNECT request with 400', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const s = h2connect(`https://127.0.0.1:${srv.port}`, { secureContext: good.secureContext, checkServerIdentity: () => undefined });
      s.on('error', reject);
      const req = s.request({ ':method': 'GET', ':path': '/' });
      req.on('response', (h) => {
        resolve(Number(h[':status']));
        s.close();
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
    expect(srv.refusals.at(-1)).toMatchObject({ stage: 'stream', reason: 'non-connect', peerIdentity: CLIENT_ID });
    await stillServes();
  });

  it('answers a malformed :authority with 400 and the reason', async () => {
    for (const authority of ['nonsense', '127.0.0.1', '127.0.0.1:99999', '::1:80', '300.1.2.3:80']) {
      const err = await tunnelError(good, { authority });
      expect(err.reason, authority).toBe('http-status');
      expect(err.status).toBe(400);
      expect(err.message).toMatch(/malformed :authority/);
    }
    await stillServes();
  });
});
