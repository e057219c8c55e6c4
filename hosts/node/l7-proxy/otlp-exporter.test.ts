import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { HttpSpan } from '../../../core/telemetry/otlp-json.ts';
import { OtlpExporter, tracesUrl, type PostResult } from './otlp-exporter.ts';

const span = (i: number): HttpSpan => ({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: (i + 1).toString(16).padStart(16, '0'),
  startMs: 1_700_000_000_000 + i,
  endMs: 1_700_000_000_001 + i,
  method: 'GET',
  target: `/x/${i}`,
  authority: 'gw',
  scheme: 'http',
  protocol: 'HTTP/1.1',
  status: 200,
  responseFlags: '-',
  requestBytes: 0,
  responseBytes: 0,
  attempts: 1,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}

function collector(answer: (n: number) => PostResult | Error = () => ({ status: 200, body: '{}' })) {
  const posts: { url: string; body: any }[] = [];
  const post = async (url: string, body: string): Promise<PostResult> => {
    posts.push({ url, body: JSON.parse(body) });
    const a = answer(posts.length);
    if (a instanceof Error) throw a;
    return a;
  };
  return { posts, post, spans: () => posts.flatMap((p) => p.body.resourceSpans[0].scopeSpans[0].spans) };
}

describe('OtlpExporter', () => {
  it('appends /v1/traces to the endpoint', () => {
    expect(tracesUrl('http://c:4318')).toBe('http://c:4318/v1/traces');
    expect(tracesUrl('http://c:4318/')).toBe('http://c:4318/v1/traces');
    expect(tracesUrl('http://c:4318/v1/traces')).toBe('http://c:4318/v1/traces');
    expect(() => new OtlpExporter({ endpoint: 'not a url', resource: {} })).toThrow();
  });

  it('sends a batch when it is full and the rest after the interval, with the resource', async () => {
    const c = collector();
    const e = new OtlpExporter({ endpoint: 'http://c:4318', resource: { 'service.name': 'public.web' }, maxBatch: 3, flushMs: 50, post: c.post });
    for (let i = 0; i < 4; i++) e.add(span(i));
    await until(() => c.posts.length === 1);
    expect(c.posts[0]!.url).toBe('http://c:4318/v1/traces');
    expect(c.posts[0]!.body.resourceSpans[0].resource.attributes).toEqual([{ key: 'service.name', value: { stringValue: 'public.web' } }]);
    expect(c.spans().map((s: any) => s.name)).toEqual(['gw/x/0', 'gw/x/1', 'gw/x/2']);
    await until(() => c.posts.length === 2);
    expect(c.spans()).toHaveLength(4);
    expect(e.status()).toMatchObject({ exported: 4, dropped: 0, queued: 0 });
  });

  it('drops and counts spans beyond the queue bound, without blocking add()', async () => {
    const e = new OtlpExporter({ endpoint: 'http://c:4318', resource: {}, maxQueue: 10, maxBatch: 100, flushMs: 60_000, post: () => new Promise(() => {}) });
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) e.add(span(i));
    expect(performance.now() - t0).toBeLessThan(50);
    // the export starts on the next turn of the loop, not inside add()
    expect(e.status()).toMatchObject({ queued: 10, dropped: 990 });
    await sleep(5);
    // the batch is capped at the queue bound: 10 in flight (the POST never answers), room for 10 more
    expect(e.status()).toMatchObject({ queued: 0, dropped: 990 });
    for (let i = 0; i < 20; i++) e.add(span(i));
    expect(e.status()).toMatchObject({ queued: 10, dropped: 1000 });
    void e.close(0);
  });

  it('retries network errors and 503 with backoff, then succeeds', async () => {
    const c = collector((n) => (n === 1 ? new Error('ECONNREFUSED') : n === 2 ? { status: 503 } : { status: 200 }));
    const e = new OtlpExporter({ endpoint: 'http://c:4318', resource: {}, flushMs: 10, backoffMs: 10, post: c.post });
    e.add(span(0));
    await until(() => e.status().exported === 1);
    expect(c.posts).toHaveLength(3);
    expect(e.status()).toMatchObject({ retries: 2, dropped: 0, failedExports: 0 });
  });

  it('drops a batch after the retries are used up, and at once on a non-retryable status; keeps going after', async () => {
    let down = true;
    const c = collector(() => (down ? new Error('ECONNREFUSED') : { status: 200 }));
    const warnings: string[] = [];
    const e = new OtlpExporter({ endpoint: 'http://c:4318', resource: {}, flushMs: 10, backoffMs: 5, maxRetries: 2, post: c.post, log: (_l, m) => warnings.push(m) });
    e.add(span(0));
    e.add(span(1));
    await until(() => e.status().failedExports === 1);
    expect(c.posts).toHaveLength(3);
    expect(e.status()).toMatchObject({ dropped: 2, exported: 0, lastError: 'ECONNREFUSED' });
    expect(warnings[0]).toMatch(/OTLP export to http:\/\/c:4318\/v1\/traces failed \(ECONNREFUSED\); 2 spans dropped/);
    down = false;
    e.add(span(2));
    await until(() => e.status().exported === 1);

    const bad = collector(() => ({ status: 400 }));
    const e2 = new OtlpExporter({ endpoint: 'http://c:4318', resource: {}, flushMs: 10, backoffMs: 5, post: bad.post });
    e2.add(span(0));
    await until(() => e2.status().failedExports === 1);
    expect(bad.posts).toHaveLength(1);
  });

  it('counts spans the collector rejects (partialSuccess) and flushes on close', async () => {
    const c = collector(() => ({ status: 200, body: '{"partialSuccess":{"rejectedSpans":"1","errorMessage":"x"}}' }));
    const e = new OtlpExporter({ endpoint: 'http://c:4318', resource: {}, flushMs: 60_000, post: c.post });
    e.add(span(0));
    e.add(span(1));
    await e.close();
    expect(e.status()).toMatchObject({ exported: 1, rejected: 1, queued: 0 });
    e.add(span(2));
    expect(e.status().dropped).toBe(1);
  });

  it('POSTs JSON over node:http, honouring Retry-After, and reaches no collector without throwing', async () => {
    const got: { url: string; type: string; body: any }[] = [];
    let n = 0;
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        got.push({ url: req.url!, type: req.headers['content-type']!, body: JSON.parse(text) });
        if (++n === 1) res.writeHead(503, { 'retry-after': '0' }).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const e = new OtlpExporter({ endpoint: `http://127.0.0.1:${port}`, resource: { 'service.name': 'gw.ns' }, flushMs: 10, backoffMs: 60_000 });
    e.add(span(0));
    await until(() => e.status().exported === 1);
    expect(got.map((g) => [g.url, g.type])).toEqual([
      ['/v1/traces', 'application/json'],
      ['/v1/traces', 'application/json'],
    ]);
    expect(got[1]!.body.resourceSpans[0].scopeSpans[0].spans[0].spanId).toBe(span(0).spanId);
    await e.close();
    await new Promise((r) => server.close(r));

    const down = new OtlpExporter({ endpoint: `http://127.0.0.1:${port}`, resource: {}, flushMs: 10, backoffMs: 5, maxRetries: 1 });
    down.add(span(1));
    await until(() => down.status().failedExports === 1);
    expect(down.status()).toMatchObject({ dropped: 1, retries: 1 });
    expect(down.status().lastError).toMatch(/ECONNREFUSED/);
    await down.close();
  });
});
