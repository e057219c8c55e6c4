/**
 * The engine on Duplexes that are not sockets, as the waypoint uses it: upstream connections are
 * HTTP/2 CONNECT streams (HBONE's shape, without the mTLS, which hosts/node/hbone's own tests
 * cover), and a downstream connection is a CONNECT stream handed to `L7Server.handleConnection`.
 * Also the handler side of retries: an uncommitted failure or a held status handed back to the
 * handler, which forwards again.
 */
import { connect as h2connect, createServer as createH2Server, type ClientHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { connect as netConnect, createServer as createNetServer, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { splicePair } from '../../hosts/node/servers/splice.ts';
import type { L7Exchange, L7Handler, UpstreamOutcome } from '../../hosts/node/l7/handler.ts';
import { L7Server } from '../../hosts/node/l7/server.ts';
import { Http1Endpoint, tcpDial } from '../../hosts/node/l7/upstream-pool.ts';
import { ForwardAllHandler } from '../../hosts/node/l7/forward-all-handler.ts';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.ts';
import { curl, raw } from './l7-fixtures.ts';

let echo: EchoBackend;
let tunnelPort = 0;
const tunnelServer = createH2Server();
let session: ClientHttp2Session;

/** A plaintext CONNECT tunnel server: each stream is spliced to the TCP target in :authority. */
beforeAll(async () => {
  echo = await startEchoBackend({ log: () => {} });
  tunnelServer.on('stream', (stream: ServerHttp2Stream, headers) => {
    const [host, port] = String(headers[':authority']).split(':');
    const sock = netConnect({ host, port: Number(port) }, () => {
      stream.respond({ ':status': 200 });
      void splicePair(stream, sock);
    });
    sock.on('error', () => stream.close(7));
  });
  await new Promise<void>((r) => tunnelServer.listen(0, '127.0.0.1', () => r()));
  tunnelPort = (tunnelServer.address() as AddressInfo).port;
  session = h2connect(`http://127.0.0.1:${tunnelPort}`);
});
afterAll(async () => {
  session?.close();
  tunnelServer.close();
  await echo?.close();
});

function tunnel(target: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':method': 'CONNECT', ':authority': target });
    s.once('response', (h) => (h[':status'] === 200 ? resolve(s) : reject(new Error(`CONNECT ${h[':status']}`))));
    s.once('error', reject);
  });
}

describe('the engine on Duplex streams', () => {
  test('the upstream pool dials CONNECT streams and reuses them', async () => {
    const ep = new Http1Endpoint('echo-via-tunnel', () => tunnel(`127.0.0.1:${echo.httpPort}`));
    const server = new L7Server(new ForwardAllHandler(ep));
    const { port } = await server.listen(0);
    try {
      for (let i = 0; i < 5; i++) {
        const r = await curl([`http://127.0.0.1:${port}/via-tunnel/${i}`]);
        expect(JSON.parse(r.stdout).path).toBe(`/via-tunnel/${i}`);
      }
      expect(ep.dials).toBe(1);
      const post = await curl(['-H', 'transfer-encoding: chunked', '-d', 'x'.repeat(100_000), `http://127.0.0.1:${port}/via-tunnel/post`]);
      expect(JSON.parse(post.stdout).method).toBe('POST');
    } finally {
      await server.close(100);
      ep.close();
    }
  });

  test('a downstream connection that is a CONNECT stream (the waypoint case) is served like a socket', async () => {
    const ep = new Http1Endpoint('echo', tcpDial('127.0.0.1', echo.httpPort));
    const l7 = new L7Server(new ForwardAllHandler(ep));
    // an inbound tunnel server: every CONNECT stream is handed to the L7 engine
    const inbound = createH2Server();
    inbound.on('stream', (stream: ServerHttp2Stream) => {
      stream.respond({ ':status': 200 });
      l7.handleConnection(stream, { address: '10.0.0.7', port: 4242 });
    });
    await new Promise<void>((r) => inbound.listen(0, '127.0.0.1', () => r()));
    const c = h2connect(`http://127.0.0.1:${(inbound.address() as AddressInfo).port}`);
    try {
      const s = c.request({ ':method': 'CONNECT', ':authority': '10.96.0.1:80' });
      await new Promise((r) => s.once('response', r));
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d: string) => (text += d));
      s.write('GET /in-tunnel/1 HTTP/1.1\r\nHost: svc\r\n\r\nGET /in-tunnel/2 HTTP/1.1\r\nHost: svc\r\n\r\n');
      const deadline = Date.now() + 3000;
      while ((text.match(/"pod"/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect([...text.matchAll(/"path": "([^"]*)"/g)].map((m) => m[1])).toEqual(['/in-tunnel/1', '/in-tunnel/2']);
      expect(text).toContain('"10.0.0.7"');
      s.close();
    } finally {
      c.close();
      inbound.close();
      await l7.close(100);
      ep.close();
    }
  });
});

describe('retries through the handler', () => {
  test('a connect failure goes back to the handler, which forwards to another endpoint', async () => {
    // port 1 (tcpmux) has no listener here: refused at once. A port freed by closing a test server
    // can be taken by another suite's listener running in parallel, and then the dial hangs.
    const bad = new Http1Endpoint('dead', tcpDial('127.0.0.1', 1));
    const good = new Http1Endpoint('echo', tcpDial('127.0.0.1', echo.httpPort));
    const seen: UpstreamOutcome[] = [];
    const handler: L7Handler = {
      request(ex: L7Exchange) {
        ex.forward(bad);
      },
      upstreamOutcome(ex, o) {
        seen.push(o);
        if (!o.committed && o.replayable && ex.state === undefined) {
          ex.state = 'retried';
          ex.forward(good);
          return true;
        }
        return false;
      },
    };
    const server = new L7Server(handler);
    const { port } = await server.listen(0);
    try {
      const r = await curl([`http://127.0.0.1:${port}/retry-me`]);
      expect(JSON.parse(r.stdout).path).toBe('/retry-me');
      expect(seen.map((o) => o.failure)).toEqual(['connect-failure', 'none']);
    } finally {
      await server.close(100);
      bad.close();
      good.close();
    }
  });

  test('a held status (retriable 503) is retried; the last one passes through when the handler gives up', async () => {
    const ep = new Http1Endpoint('echo', tcpDial('127.0.0.1', echo.httpPort));
    const is503 = (s: number): boolean => s === 503;
    const handler: L7Handler = {
      request(ex) {
        ex.state = 0;
        ex.forward(ep, { holdStatus: is503 });
      },
      upstreamOutcome(ex, o) {
        if (o.committed || (ex.state as number) >= 2) return false;
        ex.state = (ex.state as number) + 1;
        ex.forward(ep, { holdStatus: is503 });
        return true;
      },
    };
    const server = new L7Server(handler);
    const { port } = await server.listen(0);
    try {
      // the retry simulator: two 503s, then the echo
      const uuid = `u-${Date.now()}`;
      const ok = await curl(['-i', `http://127.0.0.1:${port}/retry/x?uuid=${uuid}&succeedAfter=2&responseCode=503`]);
      expect(ok.stdout).toMatch(/^HTTP\/1.1 200 OK/);
      // the held 503s were read to their end and their connections reused: three attempts, two
      // connections (a retry made synchronously finds the first one still draining)
      expect(ep.dials).toBe(2);
      const uuid2 = `v-${Date.now()}`;
      const gaveUp = await curl(['-i', `http://127.0.0.1:${port}/retry/x?uuid=${uuid2}&succeedAfter=5&responseCode=503`]);
      expect(gaveUp.stdout).toMatch(/^HTTP\/1.1 503/);
      // the retry simulator's RST: a reset before any byte on a fresh connection is a 503 from the proxy
      const rst = await raw(port, [`GET /retry/y?uuid=w-${Date.now()}&succeedAfter=1 HTTP/1.1\r\nHost: a\r\n\r\n`], 2000, (t) => t.includes('\r\n\r\n'));
      expect(rst.text).toMatch(/^HTTP\/1.1 200 OK/); // first attempt reset, retried by the handler
    } finally {
      await server.close(100);
      ep.close();
    }
  });
});

describe('an asynchronous handler', () => {
  test('bodies wait (held, the socket paused) until the handler forwards; pipelined requests stay in order', async () => {
    const ep = new Http1Endpoint('echo', tcpDial('127.0.0.1', echo.httpPort));
    let n = 0;
    const handler: L7Handler = {
      async request(ex) {
        // a policy or plugin that answers later (ext_authz, a Wasm call on a worker)
        await new Promise((r) => setTimeout(r, 20 + (n++ % 3) * 15));
        if (ex.request.target === '/deny') return ex.respond(403, undefined, 'denied\n');
        ex.forward(ep);
      },
    };
    const server = new L7Server(handler);
    const { port } = await server.listen(0);
    try {
      const reqs =
        'POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello' +
        'POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n' +
        'GET /c HTTP/1.1\r\nHost: a\r\n\r\n' +
        'GET /d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
      const r = await raw(port, [reqs.slice(0, 50), 10, reqs.slice(50, 120), 10, reqs.slice(120)], 5000);
      expect(r.closed).toBe(true);
      expect([...r.text.matchAll(/"path": "([^"]*)"/g)].map((m) => m[1])).toEqual(['/a', '/b', '/c', '/d']);
      // a direct answer to a request whose body was never read closes the connection after it
      const denied = await raw(port, ['POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody', 'GET /after HTTP/1.1\r\nHost: a\r\n\r\n'], 3000);
      expect(denied.text).toMatch(/^HTTP\/1.1 403 [\s\S]*connection: close/);
      expect(denied.text).not.toContain('/after');
      expect(denied.closed).toBe(true);
      // a handler that throws or settles without answering: 500
      const bad = new L7Server({
        async request(ex) {
          if (ex.request.target === '/throw') throw new Error('boom');
        },
      });
      const b = await bad.listen(0);
      const thrown = await curl(['-i', `http://127.0.0.1:${b.port}/throw`]);
      expect(thrown.stdout).toMatch(/^HTTP\/1.1 500[\s\S]*boom/);
      const silent = await curl(['-i', `http://127.0.0.1:${b.port}/silent`]);
      expect(silent.stdout).toMatch(/^HTTP\/1.1 500/);
      await bad.close(100);
    } finally {
      await server.close(100);
      ep.close();
    }
  });
});
