/**
 * A TLS connection handed to a plaintext `L7Server` (`handleTls`: the gateway's listener manager
 * terminates TLS and picks the route configuration by SNI) is `https` on both protocols ALPN can
 * choose, so `x-forwarded-proto` and `:scheme` upstream say https over HTTP/2 as over HTTP/1.1.
 */
import { connect as h2connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { createServer as createTlsServer, type Server, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openssl, tempDir } from '../ca/test-support.ts';
import type { L7Exchange, L7Handler } from './handler.ts';
import { L7Server } from './server.ts';

class SchemeEcho implements L7Handler {
  request(ex: L7Exchange): void {
    ex.respond(200, ['content-type', 'application/json'], JSON.stringify({ scheme: ex.request.scheme, protocol: ex.request.protocol }));
  }
}

const tmp = tempDir('weft-l7-tls-scheme-');
let l7: L7Server;
let tls: Server;
let port = 0;

beforeAll(async () => {
  const key = tmp.file('s.key');
  const cert = tmp.file('s.crt');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=s.example.com']);
  l7 = new L7Server(new SchemeEcho());
  tls = createTlsServer({ cert: openssl(['x509', '-in', cert]), key: openssl(['pkey', '-in', key]), ALPNProtocols: ['h2', 'http/1.1'] }, (s: TLSSocket) => l7.handleTls(s));
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  port = (tls.address() as { port: number }).port;
});

afterAll(async () => {
  tls?.close();
  await l7?.close(100);
  tmp.cleanup();
});

test('HTTP/1.1 over a handed-in TLS connection is https', async () => {
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: false, ALPNProtocols: ['http/1.1'] } as never, (res: import('node:http').IncomingMessage) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(b));
    });
    req.on('error', reject);
    req.end();
  });
  expect(JSON.parse(body)).toEqual({ scheme: 'https', protocol: 'HTTP/1.1' });
});

test('HTTP/2 (ALPN h2) over a handed-in TLS connection is https', async () => {
  const session = h2connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => resolve(b));
      req.on('error', reject);
      req.end();
    });
    expect(JSON.parse(body)).toMatchObject({ scheme: 'https' });
  } finally {
    session.close();
  }
});
