/**
 * The Node entry's upstream against a real node:http origin: small bodies of known length arrive
 * whole as bytes (with the parts the gateway reuses), big and unknown-length bodies stream, the
 * Host header goes as given, the abort listener is gone once the exchange ends, a timeout or a
 * short body during the whole-body read fails the fetch, and connections are kept alive.
 */
import { getEventListeners } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partsOf } from '../upstream.ts';
import { nodeFetch } from './node-fetch.ts';

let server: Server;
let base = '';
const sockets = new Set<unknown>();
const BIG = 'x'.repeat(100 * 1024);

const routes: Record<string, (res: ServerResponse, host: string | undefined) => void> = {
  '/small': (res, host) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '20', 'x-host': host ?? '' }).end('0123456789abcdefghij'),
  '/two-chunks': (res) => {
    res.writeHead(200, { 'content-length': '6' });
    res.write('abc');
    setTimeout(() => res.end('def'), 20);
  },
  '/big': (res) => res.writeHead(200, { 'content-length': String(BIG.length) }).end(BIG),
  '/chunked': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }); // no length: chunked
    res.write('part1-');
    setTimeout(() => res.end('part2'), 10);
  },
  '/slow-body': (res) => {
    res.writeHead(200, { 'content-length': '10' });
    res.write('12345'); // the rest never comes in time
  },
  '/short-body': (res) => {
    res.writeHead(200, { 'content-length': '10' });
    res.write('12345');
    setTimeout(() => res.socket?.destroy(), 10);
  },
  '/no-content': (res) => res.writeHead(204).end(),
};

beforeAll(async () => {
  server = createServer((req, res) => (routes[req.url ?? ''] ?? ((r: ServerResponse) => r.writeHead(404).end()))(res, req.headers.host));
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('nodeFetch', () => {
  const f = nodeFetch();

  it('hands a small body of known length over whole, with headers the gateway may change, and the Host as given', async () => {
    const res = await f(`${base}/small`, { headers: { host: 'api.example.com' } });
    const parts = partsOf(res)!;
    expect(parts.body).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(parts.body as Uint8Array)).toBe('0123456789abcdefghij');
    expect(parts.headers.get('x-host')).toBe('api.example.com');
    parts.headers.set('x-added', '1'); // a fresh Headers: mutable
    expect(parts.headers.get('x-added')).toBe('1');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('0123456789abcdefghij');
  });

  it('joins a small body that arrives in several chunks', async () => {
    const parts = partsOf(await f(`${base}/two-chunks`))!;
    expect(new TextDecoder().decode(parts.body as Uint8Array)).toBe('abcdef');
  });

  it('streams a body over the limit and one of unknown length', async () => {
    const big = partsOf(await f(`${base}/big`))!;
    expect(big.body).toBeInstanceOf(ReadableStream);
    expect(await new Response(big.body).text()).toBe(BIG);
    const chunked = partsOf(await f(`${base}/chunked`))!;
    expect(chunked.body).toBeInstanceOf(ReadableStream);
    expect(await new Response(chunked.body).text()).toBe('part1-part2');
  });

  it('streams every body with bufferLimit 0', async () => {
    const parts = partsOf(await nodeFetch({ bufferLimit: 0 })(`${base}/small`))!;
    expect(parts.body).toBeInstanceOf(ReadableStream);
    expect(await new Response(parts.body).text()).toBe('0123456789abcdefghij');
  });

  it('gives no body for 204', async () => {
    const res = await f(`${base}/no-content`);
    expect(res.status).toBe(204);
    expect(partsOf(res)!.body).toBeNull();
  });

  it('removes its abort listener once the exchange is done', async () => {
    const ctl = new AbortController();
    await f(`${base}/small`, { signal: ctl.signal });
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
    const streamed = new AbortController();
    const res = await f(`${base}/big`, { signal: streamed.signal });
    expect(getEventListeners(streamed.signal, 'abort')).toHaveLength(0);
    await (partsOf(res)!.body as ReadableStream).cancel();
  });

  it('fails when the timeout fires during the whole-body read', async () => {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), 50);
    await expect(f(`${base}/slow-body`, { signal: ctl.signal })).rejects.toThrow(/aborted/);
    clearTimeout(t);
  });

  it('fails when the upstream closes before the whole body', async () => {
    await expect(f(`${base}/short-body`)).rejects.toThrow();
  });

  it('reuses its connections', async () => {
    const before = sockets.size;
    for (let i = 0; i < 5; i++) await f(`${base}/small`);
    expect(sockets.size - before).toBeLessThanOrEqual(1);
  });
});
