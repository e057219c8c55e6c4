/**
 * The conformance echo backend answers as echo-basic does (/work/shared/reference/echo-backend.md).
 */
import { connect as h2connect } from 'node:http2';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { curl, raw } from '../integration/l7-fixtures.ts';
import { canonicalHeaderKey, goJson, parseGoDuration, startEchoBackend, type EchoBackend } from './echo-backend.ts';

let echo: EchoBackend;
const logged: string[] = [];

beforeAll(async () => {
  echo = await startEchoBackend({ log: (l) => logged.push(l), pod: 'infra-backend-v1-7d9f-abcde', namespace: 'gateway-conformance-infra', httpPortLabel: '3000' });
});
afterAll(async () => {
  await echo?.close();
});

describe('echo backend', () => {
  test('the JSON body: Go field order, one-space indent, sorted canonical header keys, one entry per line', async () => {
    const r = await curl(['-i', '-H', 'x-header-add: a', '-H', 'X-HEADER-ADD: b', '-H', 'X-Echo-Set-Header: X-Foo: one, X-Foo:two ,Weird-Case:v', `http://127.0.0.1:${echo.httpPort}/a//b?x=1&y=<2>`]);
    const [head, body] = [r.stdout.slice(0, r.stdout.indexOf('\r\n\r\n')), r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4)];
    expect(head).toMatch(/^HTTP\/1.1 200 OK/);
    expect(head).toMatch(/\r\nContent-Type: application\/json\r\n/);
    expect(head).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/);
    expect(head).toMatch(/\r\nX-Foo: one,two\r\n/);
    expect(head).toMatch(/\r\nWeird-Case: v\r\n/);
    const j = JSON.parse(body);
    expect(Object.keys(j)).toEqual(['path', 'host', 'method', 'proto', 'headers', 'httpPort', 'namespace', 'ingress', 'service', 'pod']);
    expect(j).toMatchObject({ path: '/a//b?x=1&y=<2>', host: `127.0.0.1:${echo.httpPort}`, method: 'GET', proto: 'HTTP/1.1', httpPort: '3000', namespace: 'gateway-conformance-infra', pod: 'infra-backend-v1-7d9f-abcde' });
    expect(j.headers['X-Header-Add']).toEqual(['a', 'b']);
    expect(Object.keys(j.headers)).toEqual([...Object.keys(j.headers)].sort());
    expect(j.headers.Host).toBeUndefined();
    expect(body).toContain('\n "path": "/a//b?x=1\\u0026y=\\u003c2\\u003e",\n');
    expect(body.startsWith('{\n "path"')).toBe(true);
  });

  test('the stdout line, before any delay', async () => {
    const n = logged.length;
    await curl([`http://127.0.0.1:${echo.httpPort}/logged?q=1`]);
    expect(logged[n]).toMatch(/^Echoing back request made to \/logged\?q=1 to client \(127\.0\.0\.1:\d+\)$/);
  });

  test('/health, /status/NNN (raw URI: a query gives 400), // collapsed for routing', async () => {
    expect((await curl([`http://127.0.0.1:${echo.httpPort}/health`])).stdout).toBe('OK');
    expect((await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${echo.httpPort}/status/418`])).stdout).toBe('418');
    expect((await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${echo.httpPort}/status/418?x=1`])).stdout).toBe('400');
    expect((await curl(['--path-as-is', `http://127.0.0.1:${echo.httpPort}//health`])).stdout).toBe('OK');
  });

  test('delay= sleeps; a bad duration is 500 with a message', async () => {
    const t0 = Date.now();
    await curl([`http://127.0.0.1:${echo.httpPort}/d?delay=300ms`]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    const bad = await curl(['-i', `http://127.0.0.1:${echo.httpPort}/d?delay=soon`]);
    expect(bad.stdout).toMatch(/^HTTP\/1.1 500/);
    expect(JSON.parse(bad.stdout.slice(bad.stdout.indexOf('{')))).toEqual({ message: 'time: invalid duration "soon"' });
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('10')).toBeUndefined();
  });

  test('/retry: required params, counted per uuid, failures by code or by RST, then the echo', async () => {
    expect((await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${echo.httpPort}/retry/x?uuid=a`])).stdout).toBe('400');
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) codes.push((await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${echo.httpPort}/retry/x?uuid=c1&succeedAfter=2&responseCode=503`])).stdout);
    expect(codes).toEqual(['503', '503', '200']);
    const rst = await curl([`http://127.0.0.1:${echo.httpPort}/retry/x?uuid=r1&succeedAfter=1`]);
    expect(rst.code).not.toBe(0);
    expect(rst.stderr).toMatch(/reset|Empty reply|Recv failure/i);
    expect(JSON.parse((await curl([`http://127.0.0.1:${echo.httpPort}/retry/x?uuid=r1&succeedAfter=1`])).stdout).path).toContain('/retry/x');
  });

  test('h2c port: prior-knowledge HTTP/2 echoes proto HTTP/2.0 and httpPort of the HTTP listener; HTTP/1.1 gets 400', async () => {
    const s = h2connect(`http://127.0.0.1:${echo.h2cPort}`);
    const body = await new Promise<string>((resolve, reject) => {
      const st = s.request({ ':path': '/over/h2', 'x-thing': 'y' });
      let t = '';
      st.setEncoding('utf8');
      st.on('data', (d: string) => (t += d));
      st.on('end', () => resolve(t));
      st.on('error', reject);
    });
    s.close();
    expect(JSON.parse(body)).toMatchObject({ path: '/over/h2', proto: 'HTTP/2.0', httpPort: '3000', headers: { 'X-Thing': ['y'] } });
    const h1 = await raw(echo.h2cPort, ['GET / HTTP/1.1\r\nHost: a\r\n\r\n'], 1000, (t) => t.includes('Expected h2c request'));
    expect(h1.text).toMatch(/^HTTP\/1.1 400/);
    expect(h1.text).toContain('Expected h2c request');
  });

  test('helpers: canonical keys and Go JSON escaping', () => {
    expect(canonicalHeaderKey('x-header-ADD')).toBe('X-Header-Add');
    expect(canonicalHeaderKey('content-type')).toBe('Content-Type');
    expect(goJson({ a: '<&>' })).toBe('{\n "a": "\\u003c\\u0026\\u003e"\n}');
  });
});
