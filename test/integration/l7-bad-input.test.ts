/**
 * The bad-input list against a running engine: each bad input gets its status (or a
 * GOAWAY/close), the connection is closed where the stream can no longer be trusted, nothing
 * smuggled reaches the upstream, and the proxy serves the next good request.
 */
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.ts';
import { curl, echoPaths, raw, startProxy, type Proxy } from './l7-fixtures.ts';

let echo: EchoBackend;
let proxy: Proxy;

beforeAll(async () => {
  echo = await startEchoBackend({ log: () => {} });
  proxy = await startProxy(echo.httpPort, { server: { headerTimeoutMs: 600, sweepMs: 100, limits: { maxHeadBytes: 8192, maxRequestLine: 2048, maxHeaders: 50 } } });
});
afterAll(async () => {
  await proxy?.close();
  await echo?.close();
});

async function stillServing(): Promise<void> {
  const r = await curl(['-i', `http://127.0.0.1:${proxy.port}/still-serving`]);
  expect(r.stdout).toMatch(/^HTTP\/1.1 200 OK/);
}

describe('bad input', () => {
  test.each([
    ['garbage', 'HELLO\r\n\r\n', 400],
    ['no version', 'GET /\r\nHost: a\r\n\r\n', 400],
    ['bad version', 'GET / HTTP/9\r\nHost: a\r\n\r\n', 400],
    ['lower-case http', 'GET / http/1.1\r\nHost: a\r\n\r\n', 400],
    ['tab in the request line', 'GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['control byte in the target', 'GET /a\u0001b HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['bare LF', 'GET / HTTP/1.1\nHost: a\n\n', 400],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n', 400],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
    ['no Host', 'GET / HTTP/1.1\r\n\r\n', 400],
    ['unknown transfer coding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
    ['HTTP/2 request line', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
  ])('malformed request (%s): its status, the connection closed', async (_n, text, status) => {
    const r = await raw(proxy.port, [text], 2000);
    expect(r.text).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    expect(r.text).toMatch(/connection: close/i);
    expect(r.closed).toBe(true);
    await stillServing();
  });

  test('oversized header section: 431; long URI: 414', async () => {
    const big = await raw(proxy.port, [`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(10_000)}\r\n\r\n`], 2000);
    expect(big.text).toMatch(/^HTTP\/1.1 431 /);
    expect(big.closed).toBe(true);
    const many = await raw(proxy.port, [`GET / HTTP/1.1\r\nHost: a\r\n${'X-A: b\r\n'.repeat(60)}\r\n`], 2000);
    expect(many.text).toMatch(/^HTTP\/1.1 431 /);
    const uri = await raw(proxy.port, [`GET /${'u'.repeat(3000)} HTTP/1.1\r\nHost: a\r\n\r\n`], 2000);
    expect(uri.text).toMatch(/^HTTP\/1.1 414 /);
    // curl's view of the same
    const c = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `X-Big: ${'y'.repeat(9000)}`, `http://127.0.0.1:${proxy.port}/`]);
    expect(c.stdout).toBe('431');
    await stillServing();
  });

  test('slowloris: a head dribbled byte by byte is cut after the header timeout (408)', async () => {
    const chunks: (string | number)[] = [];
    for (const ch of 'GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ') chunks.push(ch, 50);
    for (let i = 0; i < 40; i++) chunks.push('z', 50);
    const r = await raw(proxy.port, chunks, 5000);
    expect(r.closed).toBe(true);
    expect(r.text).toMatch(/^HTTP\/1.1 408 /);
    expect(r.ms).toBeLessThan(2500);
    // an idle connection that never sends a byte is not cut by the header timeout but by the idle one
    await stillServing();
  });

  test('an invalid HTTP/2 preface gets GOAWAY (or a close) and the proxy serves on', async () => {
    const r = await raw(proxy.port, ['PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', Buffer.alloc(30, 0)], 2000);
    expect(r.closed).toBe(true);
    if (r.text.length > 0) {
      // a GOAWAY frame (type 7) somewhere in what came back
      const b = Buffer.from(r.text, 'latin1');
      let found = false;
      for (let i = 0; i + 9 <= b.length; ) {
        const len = b.readUIntBE(i, 3);
        if (b[i + 3] === 7) found = true;
        i += 9 + len;
      }
      expect(found).toBe(true);
    }
    await stillServing();
    const h2 = await curl(['--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${proxy.port}/h2-still`]);
    expect(h2.stdout).toBe('200');
  });

  test('smuggling: CL + TE is refused with 400, the connection closed, and nothing reaches the upstream', async () => {
    const before = echo.lines.length;
    const smuggle = 'POST /front HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n';
    const r = await raw(proxy.port, [smuggle], 2000);
    expect(r.text).toMatch(/^HTTP\/1.1 400 /);
    expect(r.closed).toBe(true);
    expect(echoPaths(r.text)).toEqual([]);
    // TE.CL with a duplicate Transfer-Encoding
    const r2 = await raw(proxy.port, ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n'], 2000);
    expect(r2.text).toMatch(/^HTTP\/1.1 400 /);
    // duplicate Content-Length
    const r3 = await raw(proxy.port, ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc'], 2000);
    expect(r3.text).toMatch(/^HTTP\/1.1 400 /);
    expect(echo.lines.slice(before).filter((l) => l.includes('smuggled') || l.includes('front'))).toEqual([]);
    await stillServing();
  });

  test('an invalid chunk size mid-body cuts the request; nothing after it is taken for a request', async () => {
    const before = echo.lines.length;
    const r = await raw(proxy.port, ['POST /chunky HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\nGET /after-bad-chunk HTTP/1.1\r\nHost: a\r\n\r\n'], 2000);
    expect(r.closed).toBe(true);
    expect(r.text).not.toMatch(/after-bad-chunk/);
    expect(echo.lines.slice(before).some((l) => l.includes('after-bad-chunk'))).toBe(false);
    await stillServing();
  });

  test('a client that connects and sends nothing is closed by the idle timeout, not before a request', async () => {
    const p = await startProxy(echo.httpPort, { server: { idleTimeoutMs: 400, sweepMs: 50 } });
    try {
      const t0 = Date.now();
      const closedAfter = await new Promise<number>((resolve) => {
        const s = connect({ port: p.port, host: '127.0.0.1' });
        s.on('close', () => resolve(Date.now() - t0));
        s.on('error', () => {});
      });
      expect(closedAfter).toBeGreaterThanOrEqual(300);
      expect(closedAfter).toBeLessThan(2000);
    } finally {
      await p.close();
    }
  });
});

describe('stream idle timeout', () => {
  test('a body that stops coming: 408; an upstream that never answers: 504; a stream that keeps moving: untouched', async () => {
    // an upstream that reads the whole body before answering (the echo answers at once)
    const up = createServer((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.end('{"pod": "x"}'), req.url?.startsWith('/slow') ? 3000 : 0));
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
    const p = await startProxy((up.address() as AddressInfo).port, { server: { streamIdleTimeoutMs: 400, sweepMs: 50 } });
    try {
      const stalledBody = await raw(p.port, ['POST /stall HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc'], 3000);
      expect(stalledBody.text).toMatch(/^HTTP\/1.1 408 /);
      expect(stalledBody.closed).toBe(true);
      expect(stalledBody.ms).toBeLessThan(1500);
      const slowUpstream = await raw(p.port, ['GET /slow?delay=3s HTTP/1.1\r\nHost: a\r\n\r\n'], 3000);
      expect(slowUpstream.text).toMatch(/^HTTP\/1.1 504 /);
      // h2: the same timeout on a stream
      const h2 = await curl(['--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${p.port}/slow?delay=3s`]);
      expect(h2.stdout).toBe('504');
      // a dribbled body that keeps moving is not cut
      const moving: (string | number)[] = ['POST /moving HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n'];
      for (const ch of 'abcdef') moving.push(200, ch);
      const ok = await raw(p.port, moving, 3000, (t) => t.includes('"pod"'));
      expect(ok.text).toMatch(/^HTTP\/1.1 200 /);
    } finally {
      await p.close();
      up.close();
    }
  });
});

describe('HTTP/2 bad input', () => {
  test('an oversized h2 header list is refused, and the session or proxy serves on', async () => {
    const r = await curl(['--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code}', '-H', `x-big: ${'q'.repeat(12_000)}`, `http://127.0.0.1:${proxy.port}/h2-big`]);
    expect(r.stdout).toBe('431');
    const ok = await curl(['--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${proxy.port}/h2-after-big`]);
    expect(ok.stdout).toBe('200');
  });
});
