/**
 * HTTP/2 through the engine: prior-knowledge h2c (curl --http2-prior-knowledge, node:http2) and h2
 * over TLS chosen by ALPN (HTTP/1.1 on the same TLS port when the client asks for it), to an
 * HTTP/1.1 upstream; gRPC to an HTTP/2 upstream pool with trailers passed through, and
 * proxy-made errors on gRPC requests as trailers-only `grpc-status` answers.
 */
import * as grpc from '@grpc/grpc-js';
import { connect as h2connect, createServer as createH2, type ClientHttp2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ForwardAllHandler } from '../../hosts/node/l7/forward-all-handler.ts';
import { H2Endpoint } from '../../hosts/node/l7/h2-upstream.ts';
import { L7Server } from '../../hosts/node/l7/server.ts';
import { tcpDial } from '../../hosts/node/l7/upstream-pool.ts';
import { startEchoBackend, startGrpcEcho, type EchoBackend, type GrpcEcho } from '../support/echo-backend.ts';
import { curl, selfSigned, startProxy, type Proxy } from './l7-fixtures.ts';

let echo: EchoBackend;
let grpcEcho: GrpcEcho;
let h2up: H2Endpoint;
let proxy: Proxy;
let tlsProxy: Proxy;
const pki = selfSigned();

beforeAll(async () => {
  echo = await startEchoBackend({ log: () => {} });
  grpcEcho = await startGrpcEcho();
  h2up = new H2Endpoint(`127.0.0.1:${grpcEcho.port}`, tcpDial('127.0.0.1', grpcEcho.port));
  proxy = await startProxy(echo.httpPort, { grpcUpstream: h2up });
  tlsProxy = await startProxy(echo.httpPort, { server: { tls: pki }, grpcUpstream: h2up });
});
afterAll(async () => {
  await proxy?.close();
  await tlsProxy?.close();
  h2up?.close();
  await grpcEcho?.close();
  await echo?.close();
});

function h2get(session: ClientHttp2Session, path: string, body?: string): Promise<{ headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':path': path, ':method': body === undefined ? 'GET' : 'POST' }, { endStream: body === undefined });
    let headers: IncomingHttpHeaders = {};
    let text = '';
    s.on('response', (h) => (headers = h));
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.on('end', () => resolve({ headers, body: text }));
    s.on('error', reject);
    if (body !== undefined) s.end(body);
  });
}

describe('HTTP/2 downstream', () => {
  test('curl --http2-prior-knowledge: GET and POST reach the HTTP/1.1 upstream', async () => {
    const r = await curl(['-i', '--http2-prior-knowledge', `http://127.0.0.1:${proxy.port}/h2c/get?q=1`]);
    expect(r.stdout).toMatch(/^HTTP\/2 200/);
    const body = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    expect(body).toMatchObject({ path: '/h2c/get?q=1', method: 'GET', proto: 'HTTP/1.1', host: `127.0.0.1:${proxy.port}` });
    const p = await curl(['--http2-prior-knowledge', '-d', 'hello=1', `http://127.0.0.1:${proxy.port}/h2c/post`]);
    expect(JSON.parse(p.stdout)).toMatchObject({ method: 'POST', headers: { 'Content-Length': ['7'] } });
  });

  test('node:http2 client: many concurrent streams on one session', async () => {
    const session = h2connect(`http://127.0.0.1:${proxy.port}`);
    try {
      const rs = await Promise.all(Array.from({ length: 20 }, (_v, i) => h2get(session, `/multi/${i}`, i % 2 ? `body-${i}` : undefined)));
      rs.forEach((r, i) => {
        expect(r.headers[':status']).toBe(200);
        expect(JSON.parse(r.body).path).toBe(`/multi/${i}`);
      });
      const st = await h2get(session, '/status/418');
      expect(st.headers[':status']).toBe(418);
    } finally {
      session.close();
    }
  });

  test('an h2 client gets a streamed (chunked upstream) response as it comes', async () => {
    const up: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      const t = setInterval(() => {
        res.write(`data: ${i}\n\n`);
        if (++i === 3) {
          clearInterval(t);
          res.end();
        }
      }, 150);
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
    const p = await startProxy((up.address() as AddressInfo).port);
    const session = h2connect(`http://127.0.0.1:${p.port}`);
    try {
      const arrivals: number[] = [];
      const t0 = Date.now();
      await new Promise<void>((resolve, reject) => {
        const s = session.request({ ':path': '/sse' }, { endStream: true });
        s.on('data', () => arrivals.push(Date.now() - t0));
        s.on('end', () => resolve());
        s.on('error', reject);
      });
      expect(arrivals.length).toBeGreaterThanOrEqual(3);
      expect(arrivals[arrivals.length - 1]! - arrivals[0]!).toBeGreaterThan(200);
    } finally {
      session.close();
      await p.close();
      up.close();
    }
  });

  test('TLS: ALPN h2 for curl --http2, HTTP/1.1 for --http1.1, both to the same upstream', async () => {
    const h2 = await curl(['-k', '-i', '--http2', `https://127.0.0.1:${tlsProxy.port}/tls/h2`]);
    expect(h2.stdout).toMatch(/^HTTP\/2 200/);
    expect(JSON.parse(h2.stdout.slice(h2.stdout.indexOf('{')))).toMatchObject({ path: '/tls/h2', headers: { 'X-Forwarded-Proto': ['https'] } });
    const h1 = await curl(['-k', '-i', '--http1.1', `https://127.0.0.1:${tlsProxy.port}/tls/h1`]);
    expect(h1.stdout).toMatch(/^HTTP\/1.1 200/);
    const session = h2connect(`https://127.0.0.1:${tlsProxy.port}`, { rejectUnauthorized: false });
    try {
      const r = await h2get(session, '/tls/node');
      expect(r.headers[':status']).toBe(200);
    } finally {
      session.close();
    }
  });
});

describe('HTTP/2 upstream (the echo backend\'s h2c port)', () => {
  test('HTTP/1.1 and HTTP/2 clients both reach it as HTTP/2.0, bodies and all', async () => {
    const up = new H2Endpoint(`127.0.0.1:${echo.h2cPort}`, tcpDial('127.0.0.1', echo.h2cPort));
    const server = new L7Server(new ForwardAllHandler(up));
    const { port } = await server.listen(0);
    try {
      const h1 = await curl(['-H', 'transfer-encoding: chunked', '-d', 'x'.repeat(5000), `http://127.0.0.1:${port}/h1-to-h2?a=b`]);
      expect(JSON.parse(h1.stdout)).toMatchObject({ path: '/h1-to-h2?a=b', method: 'POST', proto: 'HTTP/2.0', host: `127.0.0.1:${port}` });
      const h1cl = await curl(['-d', 'hello', `http://127.0.0.1:${port}/h1-cl`]);
      expect(JSON.parse(h1cl.stdout).headers['Content-Length']).toEqual(['5']);
      const h2 = await curl(['--http2-prior-knowledge', '-H', 'cookie: a=1', '-H', 'cookie: b=2', `http://127.0.0.1:${port}/h2-to-h2`]);
      expect(JSON.parse(h2.stdout)).toMatchObject({ path: '/h2-to-h2', proto: 'HTTP/2.0' });
      const status = await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/status/503`]);
      expect(status.stdout).toBe('503');
      expect(up.dials).toBe(1);
    } finally {
      await server.close(100);
      up.close();
    }
  });
});

describe('HTTP/2 upstream sessions', () => {
  test('a session the upstream GOAWAYs is left for a new one; requests keep succeeding', async () => {
    let sessions = 0;
    const up = createH2();
    up.on('session', () => sessions++);
    up.on('stream', (stream: ServerHttp2Stream) => {
      const session = stream.session;
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('pong');
      // every session serves one request, then says GOAWAY (a rolling restart, a max-requests limit)
      setImmediate(() => session?.goaway(0));
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
    const port = (up.address() as AddressInfo).port;
    const ep = new H2Endpoint(`127.0.0.1:${port}`, tcpDial('127.0.0.1', port));
    const server = new L7Server(new ForwardAllHandler(ep));
    const { port: proxyPort } = await server.listen(0);
    try {
      for (let i = 0; i < 4; i++) {
        const r = await curl([`http://127.0.0.1:${proxyPort}/g/${i}`]);
        expect(r.stdout).toBe('pong');
        await new Promise((res) => setTimeout(res, 30));
      }
      expect(ep.dials).toBeGreaterThanOrEqual(2);
      expect(sessions).toBe(ep.dials);
    } finally {
      await server.close(100);
      ep.close();
      up.close();
    }
  });
});

describe('direct responses', () => {
  test('respond() with and without a body, over HTTP/1.1 and HTTP/2, HEAD included', async () => {
    const server = new L7Server({
      request(ex) {
        const t = ex.request.target;
        if (t === '/nobody') ex.respond(204);
        else if (t === '/redirect') ex.respond(302, ['location', 'https://example.com/']);
        else ex.respond(404, ['x-why', 'no route'], 'no route here\n');
      },
    });
    const { port } = await server.listen(0);
    try {
      for (const proto of [['--http1.1'], ['--http2-prior-knowledge']]) {
        const r = await curl([...proto, '-i', `http://127.0.0.1:${port}/missing`]);
        expect(r.stdout).toMatch(/^HTTP\/(1.1|2) 404/);
        expect(r.stdout).toMatch(/x-why: no route/);
        expect(r.stdout).toMatch(/content-length: 14/);
        expect(r.stdout.endsWith('no route here\n')).toBe(true);
        const head = await curl([...proto, '-I', `http://127.0.0.1:${port}/missing`]);
        expect(head.stdout).toMatch(/^HTTP\/(1.1|2) 404/);
        expect(head.code).toBe(0);
        const nb = await curl([...proto, '-i', `http://127.0.0.1:${port}/nobody`]);
        expect(nb.stdout).toMatch(/^HTTP\/(1.1|2) 204/);
        const rd = await curl([...proto, '-i', `http://127.0.0.1:${port}/redirect`]);
        expect(rd.stdout).toMatch(/location: https:\/\/example.com\//);
      }
      // keep-alive after direct answers on HTTP/1.1: several on one connection
      const many = await curl(['--http1.1', `http://127.0.0.1:${port}/a`, `http://127.0.0.1:${port}/b`, `http://127.0.0.1:${port}/nobody`, `http://127.0.0.1:${port}/c`]);
      expect(many.stdout).toBe('no route here\n'.repeat(3));
      expect(server.accepted).toBeGreaterThan(0);
    } finally {
      await server.close(100);
    }
  });
});

// raw-bytes gRPC client for the echo service (no protos)
const id = (b: Buffer): Buffer => b;
const EchoClient = grpc.makeGenericClientConstructor(
  {
    Unary: { path: '/weft.test.Echo/Unary', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
    Fail: { path: '/weft.test.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
    Stream: { path: '/weft.test.Echo/Stream', requestStream: false, responseStream: true, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  },
  'Echo',
);
type Unary = (req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => grpc.ClientUnaryCall;

function unary(client: grpc.Client, method: 'Unary' | 'Fail', payload: Buffer): Promise<{ err: grpc.ServiceError | null; res?: Buffer; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = (client as unknown as Record<string, Unary>)[method]!.call(client, payload, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) => {
      setImmediate(() => resolve({ err, res, trailers }));
    });
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

describe('gRPC through the engine', () => {
  test('unary: the response and its trailers pass through; an error status too', async () => {
    const client = new EchoClient(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure());
    try {
      const ok = await unary(client, 'Unary', Buffer.from('ping'));
      expect(ok.err).toBeNull();
      expect(ok.res?.toString()).toBe('ping');
      expect(ok.trailers?.get('x-echo-trailer')).toEqual(['done']);
      const bad = await unary(client, 'Fail', Buffer.from('x'));
      expect(bad.err?.code).toBe(grpc.status.NOT_FOUND);
      expect(bad.err?.details).toBe('no such thing');
    } finally {
      client.close();
    }
  });

  test('server streaming: three messages then OK', async () => {
    const client = new EchoClient(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure());
    try {
      const got: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const call = (client as unknown as { Stream(req: Buffer): grpc.ClientReadableStream<Buffer> }).Stream(Buffer.from('s'));
        call.on('data', (b: Buffer) => got.push(b.toString()));
        call.on('status', (s: grpc.StatusObject) => (s.code === 0 ? resolve() : reject(new Error(s.details))));
        call.on('error', reject);
      });
      expect(got).toEqual(['s', 's', 's']);
    } finally {
      client.close();
    }
  });

  test('gRPC over TLS h2 through the proxy', async () => {
    const client = new EchoClient(`127.0.0.1:${tlsProxy.port}`, grpc.credentials.createSsl(Buffer.from(pki.cert)));
    try {
      const ok = await unary(client, 'Unary', Buffer.from('tls'));
      expect(ok.err).toBeNull();
      expect(ok.res?.toString()).toBe('tls');
    } finally {
      client.close();
    }
  });

  test('a proxy-made error on a gRPC request is trailers-only grpc-status 14, not an HTML page', async () => {
    const deadPort = 1; // refused at once (a freed ephemeral port may be taken by a parallel suite)
    const deadUp = new H2Endpoint(`127.0.0.1:${deadPort}`, tcpDial('127.0.0.1', deadPort));
    const p = await startProxy(deadPort, { grpcUpstream: deadUp });
    const client = new EchoClient(`127.0.0.1:${p.port}`, grpc.credentials.createInsecure());
    try {
      const r = await unary(client, 'Unary', Buffer.from('x'));
      expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
      // the raw answer: HEADERS with END_STREAM carrying grpc-status, content-type application/grpc
      const session = h2connect(`http://127.0.0.1:${p.port}`);
      const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
        const s = session.request({ ':path': '/weft.test.Echo/Unary', ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' });
        s.on('response', (h) => resolve(h));
        s.on('error', reject);
        s.end(Buffer.from([0, 0, 0, 0, 0]));
      });
      session.close();
      expect(headers[':status']).toBe(200);
      expect(headers['content-type']).toBe('application/grpc');
      expect(headers['grpc-status']).toBe('14');
    } finally {
      client.close();
      await p.close();
      deadUp.close();
    }
  });
});
