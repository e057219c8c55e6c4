/**
 * The L7 engine's HTTP/1.1 path with real clients on loopback: a proxy (forward-all handler) in
 * front of the conformance echo backend or a purpose-built upstream. Keep-alive and pooling,
 * pipelining in order, request bodies streamed (not buffered), 100-continue, HTTP/1.0, Connection:
 * close, SSE events arriving one by one, WebSocket through the proxy, safe retries, upstream
 * failures and timeouts as 503/504.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startEchoBackend, wsFrame, type EchoBackend } from '../support/echo-backend.ts';
import { curl, echoPaths, raw, sleep, startProxy, type Proxy } from './l7-fixtures.ts';

let echo: EchoBackend;
let proxy: Proxy;

beforeAll(async () => {
  echo = await startEchoBackend({ log: () => {}, pod: 'infra-backend-v1-abc-def', namespace: 'gateway-conformance-infra' });
  proxy = await startProxy(echo.httpPort);
});
afterAll(async () => {
  await proxy?.close();
  await echo?.close();
});

function get(port: number, path: string, agent?: Agent, headers: Record<string, string> = {}): Promise<{ status: number; body: string; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, res }));
    });
    req.on('error', reject);
    req.end();
  });
}

function listen(s: Server | NetServer): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

describe('HTTP/1.1 through the engine', () => {
  test('the echo answer arrives as the backend sent it, with x-forwarded-for added', async () => {
    const r = await curl(['-i', '-H', 'X-Echo-Set-Header: X-Foo: a, x-bar:b', `http://127.0.0.1:${proxy.port}/some/path?x=1`]);
    expect(r.stdout).toMatch(/^HTTP\/1.1 200 OK/);
    expect(r.stdout).toMatch(/\r\nX-Foo: a\r\n/i);
    const body = JSON.parse(r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4));
    expect(body).toMatchObject({ path: '/some/path?x=1', host: `127.0.0.1:${proxy.port}`, method: 'GET', proto: 'HTTP/1.1', namespace: 'gateway-conformance-infra' });
    expect(body.headers['X-Forwarded-For']).toEqual(['127.0.0.1']);
  });

  test('keep-alive: one client connection, one upstream connection, many requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = proxy.endpoint.dials;
    const accepted = proxy.server.accepted;
    for (let i = 0; i < 20; i++) {
      const r = await get(proxy.port, `/ka/${i}`, agent);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).path).toBe(`/ka/${i}`);
    }
    expect(proxy.endpoint.dials - before).toBeLessThanOrEqual(1);
    expect(proxy.server.accepted - accepted).toBe(1);
    agent.destroy();
  });

  test('pipelining: three requests in one write are answered in order', async () => {
    const reqs = 'GET /p/1 HTTP/1.1\r\nHost: a\r\n\r\n' + 'POST /p/2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello' + 'GET /p/3?delay=10ms HTTP/1.1\r\nHost: a\r\n\r\n' + 'GET /p/4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
    const r = await raw(proxy.port, [reqs], 5000);
    expect(r.closed).toBe(true);
    expect(echoPaths(r.text)).toEqual(['/p/1', '/p/2', '/p/3?delay=10ms', '/p/4']);
    expect(r.text.match(/HTTP\/1.1 200 OK/g)).toHaveLength(4);
  });

  test('HTTP/1.0 and Connection: close end the connection after the response', async () => {
    const r10 = await raw(proxy.port, ['GET /old HTTP/1.0\r\n\r\n'], 3000);
    expect(r10.closed).toBe(true);
    expect(r10.text).toMatch(/^HTTP\/1.1 200 OK/);
    expect(r10.text).toMatch(/connection: close/i);
    const r10ka = await raw(proxy.port, ['GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'], 500);
    expect(r10ka.closed).toBe(false);
    expect(r10ka.text).toMatch(/connection: keep-alive/i);
    const rc = await raw(proxy.port, ['GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'], 3000);
    expect(rc.closed).toBe(true);
    expect(echoPaths(rc.text)).toEqual(['/c']);
  });

  test('Expect: 100-continue is answered when the body is wanted', async () => {
    const r = await raw(proxy.port, ['PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n', 200, 'data'], 3000, (t) => t.includes('"pod"'));
    expect(r.text).toMatch(/^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 200 OK/);
    expect(JSON.parse(r.text.slice(r.text.indexOf('{'))).headers['Content-Length']).toEqual(['4']);
  });

  test('a chunked request body streams to the upstream before the client finished it', async () => {
    let firstSeenAt = 0;
    let got: Buffer[] = [];
    const up = createServer((req, res) => {
      got = [];
      req.on('data', (d: Buffer) => {
        if (!firstSeenAt) firstSeenAt = Date.now();
        got.push(d);
      });
      req.on('end', () => res.end(`got ${Buffer.concat(got).length}`));
    });
    const upPort = await listen(up);
    const p = await startProxy(upPort);
    try {
      const t0 = Date.now();
      const r = await raw(p.port, ['POST /s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n', 600, '6\r\nsecond\r\n0\r\n\r\n'], 3000, (t) => t.includes('got 11'));
      expect(r.text).toMatch(/got 11/);
      expect(firstSeenAt - t0).toBeLessThan(450);
      expect(Buffer.concat(got).toString()).toBe('firstsecond');
      const big = randomBytes(3 << 20);
      const r2 = await curl(['--data-binary', `@${await writeTemp(big)}`, '-H', 'content-type: application/octet-stream', `http://127.0.0.1:${p.port}/big`]);
      expect(r2.stdout).toBe(`got ${big.length}`);
    } finally {
      await p.close();
      up.close();
    }
  });

  test('SSE / chunked responses pass through event by event', async () => {
    const up = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      const t = setInterval(() => {
        res.write(`data: event ${i}\n\n`);
        if (++i === 4) {
          clearInterval(t);
          res.end();
        }
      }, 150);
    });
    const upPort = await listen(up);
    const p = await startProxy(upPort);
    try {
      const arrivals: number[] = [];
      const events: string[] = [];
      await new Promise<void>((resolve, reject) => {
        const t0 = Date.now();
        const req = request({ host: '127.0.0.1', port: p.port, path: '/events' }, (res) => {
          expect(res.headers['transfer-encoding']).toBe('chunked');
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            arrivals.push(Date.now() - t0);
            events.push(d);
          });
          res.on('end', () => resolve());
        });
        req.on('error', reject);
        req.end();
      });
      expect(events.join('')).toBe('data: event 0\n\ndata: event 1\n\ndata: event 2\n\ndata: event 3\n\n');
      expect(arrivals.length).toBeGreaterThanOrEqual(4);
      // the first event came long before the last: nothing was held back
      expect(arrivals[arrivals.length - 1]! - arrivals[0]!).toBeGreaterThan(300);
    } finally {
      await p.close();
      up.close();
    }
  });

  test('WebSocket: handshake through the proxy, then frames both ways over the spliced sockets', async () => {
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const mask = randomBytes(4);
    const r = await raw(
      proxy.port,
      [`GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`, 100, wsFrame(1, Buffer.from('hello ws'), mask), 50, wsFrame(1, Buffer.from('second'), mask)],
      3000,
      (t) => t.includes('second'),
    );
    expect(r.text).toMatch(/^HTTP\/1.1 101 Switching Protocols\r\n/);
    expect(r.text.toLowerCase()).toContain(`sec-websocket-accept: ${accept.toLowerCase()}`);
    expect(r.text).toContain('hello ws');
    expect(r.text).toContain('second');
  });

  test('a reused upstream connection that dies before answering: GET is retried on a fresh one, POST with a body is not', async () => {
    // answers the first request on each connection, then closes on the second without a byte
    const up = createNetServer((s) => {
      let n = 0;
      s.on('data', (d) => {
        const text = d.toString();
        if (!text.includes('\r\n\r\n')) return;
        if (++n === 1) s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        else s.destroy();
      });
      s.on('error', () => {});
    });
    const upPort = await listen(up);
    const p = await startProxy(upPort);
    try {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      expect((await get(p.port, '/one', agent)).status).toBe(200);
      expect((await get(p.port, '/two', agent)).status).toBe(200);
      const retried = p.handler.outcomes[p.handler.outcomes.length - 1]!;
      expect(retried).toMatchObject({ status: 200, failure: 'none', reused: false });
      const post = await raw(p.port, ['POST /three HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc'], 2000, (t) => t.includes('\r\n\r\n'));
      expect(post.text).toMatch(/^HTTP\/1.1 503/);
      expect(p.handler.outcomes[p.handler.outcomes.length - 1]).toMatchObject({ failure: 'upstream-reset', committed: false, reused: true });
      agent.destroy();
    } finally {
      await p.close();
      up.close();
    }
  });

  test('upstream refused: 503 connect-failure; too slow: 504 timeout; both served on afterwards', async () => {
    const deadPort = 1; // refused at once (a freed ephemeral port may be taken by a parallel suite)
    const p = await startProxy(deadPort);
    try {
      const r = await curl(['-i', `http://127.0.0.1:${p.port}/x`]);
      expect(r.stdout).toMatch(/^HTTP\/1.1 503/);
      expect(p.handler.outcomes[0]).toMatchObject({ failure: 'connect-failure', committed: false });
    } finally {
      await p.close();
    }
    const slow = await startProxy(echo.httpPort, { timeoutMs: 300 });
    try {
      const t0 = Date.now();
      const r = await curl(['-i', `http://127.0.0.1:${slow.port}/slow?delay=2s`]);
      expect(r.stdout).toMatch(/^HTTP\/1.1 504/);
      expect(Date.now() - t0).toBeLessThan(1500);
      expect((await curl(['-i', `http://127.0.0.1:${slow.port}/fast`])).stdout).toMatch(/^HTTP\/1.1 200/);
    } finally {
      await slow.close();
    }
  });

  test('a response cut mid-body resets the client connection (no clean end that looks complete)', async () => {
    const up = createNetServer((s) => {
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly a part');
        setTimeout(() => s.destroy(), 50);
      });
    });
    const upPort = await listen(up);
    const p = await startProxy(upPort);
    try {
      const r = await curl([`http://127.0.0.1:${p.port}/cut`]);
      expect(r.code).not.toBe(0);
      expect((await curl(['-i', `http://127.0.0.1:${p.port}/cut2`], 3000)).code).not.toBe(0);
    } finally {
      await p.close();
      up.close();
    }
  });

  test('HEAD and 204/304 answers carry no body, and the connection stays usable', async () => {
    const r = await raw(proxy.port, ['HEAD /h HTTP/1.1\r\nHost: a\r\n\r\nGET /status/204 HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'], 3000);
    expect(r.text).toMatch(/^HTTP\/1.1 200 OK\r\n[\s\S]*?\r\n\r\nHTTP\/1.1 204 No Content\r\n/);
    expect(r.text.slice(0, r.text.indexOf('\r\n\r\n'))).not.toMatch(/content-length: 0/);
    expect(echoPaths(r.text)).toEqual(['/after']);
  });

  test('the upstream pool keeps connections for concurrent clients and reuses them', async () => {
    const before = proxy.endpoint.dials;
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    for (let round = 0; round < 5; round++) {
      const rs = await Promise.all(Array.from({ length: 8 }, (_v, i) => get(proxy.port, `/c/${round}/${i}`, agent)));
      for (const r of rs) expect(r.status).toBe(200);
    }
    expect(proxy.endpoint.dials - before).toBeLessThanOrEqual(8);
    agent.destroy();
    await sleep(10);
  });
});

async function writeTemp(b: Buffer): Promise<string> {
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const f = join(mkdtempSync(join(tmpdir(), 'weft-l7-body-')), 'body');
  writeFileSync(f, b);
  return f;
}

describe('half-close', () => {
  test('a client that sends pipelined requests and FIN gets every answer, then FIN', async () => {
    const text = await new Promise<string>((resolve) => {
      const s = connect({ port: proxy.port, host: '127.0.0.1', allowHalfOpen: true });
      let t = '';
      s.on('data', (d) => (t += d.toString('latin1')));
      s.on('end', () => resolve(t));
      s.on('connect', () => s.end('GET /hc/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /hc/2?delay=20ms HTTP/1.1\r\nHost: a\r\n\r\nGET /hc/3 HTTP/1.1\r\nHost: a\r\n\r\n'));
    });
    expect(echoPaths(text)).toEqual(['/hc/1', '/hc/2?delay=20ms', '/hc/3']);
  });
});

describe('pool limits', () => {
  test('maxConnections queues requests on the open connections; beyond maxPending: 503 overflow', async () => {
    const p = await startProxy(echo.httpPort, { pool: { maxConnections: 2, maxPending: 3 } });
    try {
      const agent = new Agent({ keepAlive: true, maxSockets: 5 });
      const rs = await Promise.all(Array.from({ length: 5 }, (_v, i) => get(p.port, `/limited/${i}?delay=100ms`, agent)));
      expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(p.endpoint.dials).toBe(2);
      const many = await Promise.all(Array.from({ length: 8 }, (_v, i) => get(p.port, `/over/${i}?delay=200ms`, new Agent())));
      const codes = many.map((r) => r.status).sort();
      expect(codes.filter((c) => c === 200)).toHaveLength(5);
      expect(codes.filter((c) => c === 503)).toHaveLength(3);
      expect(p.handler.outcomes.some((o) => o.failure === 'overflow')).toBe(true);
      agent.destroy();
    } finally {
      await p.close();
    }
  });

  test('idle upstream connections close after the idle timeout', async () => {
    const p = await startProxy(echo.httpPort, { pool: { idleTimeoutMs: 200 } });
    try {
      expect((await get(p.port, '/idle')).status).toBe(200);
      expect(p.endpoint.idle.length).toBe(1);
      await sleep(700);
      expect(p.endpoint.idle.length).toBe(0);
      expect(p.endpoint.total).toBe(0);
      expect((await get(p.port, '/idle-again')).status).toBe(200);
      expect(p.endpoint.dials).toBe(2);
    } finally {
      await p.close();
    }
  });
});

describe('bulk transfers', () => {
  test('8 MB down and up, over HTTP/1.1 and HTTP/2, byte-exact (backpressure both ways)', async () => {
    const { createHash } = await import('node:crypto');
    const blob = randomBytes(8 << 20);
    const blobHash = createHash('sha256').update(blob).digest('hex');
    const up = createServer((req, res) => {
      if (req.method === 'GET') {
        // chunked, in uneven pieces
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let off = 0;
        const step = (): void => {
          while (off < blob.length) {
            const n = Math.min(100_000 + (off % 7919), blob.length - off);
            const ok = res.write(blob.subarray(off, off + n));
            off += n;
            if (!ok) return void res.once('drain', step);
          }
          res.end();
        };
        step();
        return;
      }
      const h = createHash('sha256');
      let len = 0;
      req.on('data', (d: Buffer) => {
        h.update(d);
        len += d.length;
      });
      req.on('end', () => res.end(`${len} ${h.digest('hex')}`));
    });
    const upPort = await listen(up);
    const p = await startProxy(upPort);
    const file = await writeTemp(blob);
    try {
      for (const proto of ['--http1.1', '--http2-prior-knowledge']) {
        const down = await curl([proto, '-o', `${file}.down`, '-w', '%{size_download}', `http://127.0.0.1:${p.port}/blob`], 30_000);
        expect(down.stdout).toBe(String(blob.length));
        const { readFileSync } = await import('node:fs');
        expect(createHash('sha256').update(readFileSync(`${file}.down`)).digest('hex')).toBe(blobHash);
        const upl = await curl([proto, '--data-binary', `@${file}`, `http://127.0.0.1:${p.port}/upload`], 30_000);
        expect(upl.stdout).toBe(`${blob.length} ${blobHash}`);
        const uplChunked = await curl([proto, '-H', 'transfer-encoding: chunked', '--data-binary', `@${file}`, `http://127.0.0.1:${p.port}/upload`], 30_000);
        expect(uplChunked.stdout).toBe(`${blob.length} ${blobHash}`);
      }
    } finally {
      await p.close();
      up.close();
    }
  });
});
