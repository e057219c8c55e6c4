/**
 * Tracing through `weft gateway` from the bundle (design.md 7): a request's W3C traceparent is
 * continued to the echo backend with the gateway's span as the parent, and that span is exported
 * as OTLP/HTTP JSON to a small collector in the test; a request without one gets a started trace
 * (100 % sampling by the flag); a collector that is down costs no request.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTraceparent } from '../../core/telemetry/trace-context.ts';
import { startEchoBackend, type EchoBackend } from '../support/echo-backend.ts';
import { httpGateway, httpRouteAll, namespace, service, workloadEntry, yamlDocs } from '../support/mesh-yaml.ts';
import { freePort, httpGet, startControlAndGateway } from '../support/proxy-fixtures.ts';
import type { GatewayProcess } from '../support/gateway-process.ts';
import { eventually, type ControlProcess } from '../support/weft-process.ts';

const LISTEN = '127.0.0.1';
const ECHO_IP = '127.0.0.23';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const dir = mkdtempSync(join(tmpdir(), 'weft-tracing-'));
let control: ControlProcess;
let gateway: GatewayProcess;
let echo: EchoBackend;
let apiPort = 0;

/** The test's OTLP collector: every POST body, by path. */
const posts: { path: string; contentType: string; body: any }[] = [];
let collector: Server;
let collectorPort = 0;

function startCollector(port = 0): Promise<void> {
  collector = createHttpServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: JSON.parse(text) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((r) =>
    collector.listen(port, LISTEN, () => {
      collectorPort = (collector.address() as { port: number }).port;
      r();
    }),
  );
}

function spans(): any[] {
  return posts.flatMap((p) => p.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => ({ ...s, resource: rs.resource })))));
}

const attr = (s: any, key: string) => {
  const v = s.attributes.find((a: any) => a.key === key)?.value;
  return v && Object.values(v)[0];
};

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  return httpGet({ host: LISTEN, port: apiPort, path, headers: { host: 'shop.example', ...headers }, textIfNotJson: true });
}

beforeAll(async () => {
  echo = await startEchoBackend({ host: ECHO_IP, httpPort: 0, h2cPort: null, pod: 'echo-v1-7d9f8c-x2k4p', namespace: 'web', log: () => {} });
  apiPort = await freePort();
  await startCollector();
  const config = join(dir, 'config');
  const state = join(dir, 'state');
  mkdirSync(config, { recursive: true });
  mkdirSync(state, { recursive: true });
  writeFileSync(
    join(config, 'mesh.yaml'),
    yamlDocs(
      namespace('web'),
      service({ name: 'echo', namespace: 'web', app: 'echo', clusterIP: '240.240.1.11', targetPort: echo.httpPort }),
      workloadEntry({ name: 'echo-v1', namespace: 'web', app: 'echo', node: 'n1', address: ECHO_IP }),
      httpGateway({ name: 'public', namespace: 'web', port: apiPort }),
      httpRouteAll({ name: 'echo', namespace: 'web', gateway: 'public', backend: 'echo' }),
    ),
  );
  ({ control, gateway } = await startControlAndGateway({
    config,
    state,
    gateway: 'web/public',
    listen: LISTEN,
    args: ['--otlp-endpoint', `http://${LISTEN}:${collectorPort}`, '--trace-sampling', '100', '--otlp-flush-ms', '100'],
  }));
  await eventually(async () => (await get('/health').catch(() => undefined))?.status === 200, 10_000, 'a 200 through the gateway');
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await control?.stop();
  await echo?.close();
  collector?.closeAllConnections();
  await new Promise((r) => collector?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('weft gateway tracing', () => {
  it('continues an incoming trace to the backend and exports its span with the incoming span as the parent', async () => {
    const r = await get('/traced?delay=50ms', { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'congo=t61rcWkgMzE' });
    expect(r.status).toBe(200);
    const sent = parseTraceparent(r.json.headers.Traceparent?.[0]);
    expect(sent).toMatchObject({ traceId: TRACE, flags: 1 });
    expect(sent!.spanId).not.toBe(PARENT);
    expect(r.json.headers.Tracestate).toEqual(['congo=t61rcWkgMzE']);

    const span = await eventually(() => spans().find((s) => s.traceId === TRACE), 10_000, 'the span at the collector');
    expect(posts[0]).toMatchObject({ path: '/v1/traces', contentType: 'application/json' });
    expect(span.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'public.web' } });
    expect(span).toMatchObject({ spanId: sent!.spanId, parentSpanId: PARENT, name: 'shop.example/traced', kind: 2 });
    expect(attr(span, 'http.response.status_code')).toBe('200');
    expect(attr(span, 'http.request.method')).toBe('GET');
    expect(attr(span, 'url.path')).toBe('/traced');
    expect(attr(span, 'server.address')).toBe('shop.example');
    expect(attr(span, 'upstream_cluster')).toMatch(/echo\.web\.svc\.cluster\.local/);
    expect(attr(span, 'upstream_address')).toBe(`${ECHO_IP}:${echo.httpPort}`);
    expect(attr(span, 'response_flags')).toBe('-');
    expect(span.status).toEqual({});
    const durationMs = Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6;
    expect(durationMs).toBeGreaterThanOrEqual(49);
    expect(durationMs).toBeLessThan(5000);
    expect(Math.abs(Number(BigInt(span.startTimeUnixNano) / 1_000_000n) - Date.now())).toBeLessThan(60_000);
  });

  it('starts a sampled trace for a request without traceparent (100 % by the flag) and marks a 5xx as an error', async () => {
    const r = await get('/started');
    const sent = parseTraceparent(r.json.headers.Traceparent?.[0]);
    expect(sent?.flags).toBe(1);
    expect(sent!.traceId).not.toBe(TRACE);
    const span = await eventually(() => spans().find((s) => s.traceId === sent!.traceId), 10_000, 'the started span');
    expect(span.spanId).toBe(sent!.spanId);
    expect(span.parentSpanId ?? '').toBe('');

    const unsampled = await get('/unsampled', { traceparent: `00-${'1'.repeat(32)}-${PARENT}-00` });
    expect(parseTraceparent(unsampled.json.headers.Traceparent?.[0])).toMatchObject({ traceId: '1'.repeat(32), flags: 0 });

    const failed = await get('/status/503', { traceparent: `00-${'2'.repeat(32)}-${PARENT}-01` });
    expect(failed.status).toBe(503);
    const errSpan = await eventually(() => spans().find((s) => s.traceId === '2'.repeat(32)), 10_000, 'the 503 span');
    expect(errSpan.status.code).toBe(2);
    expect(attr(errSpan, 'http.response.status_code')).toBe('503');
    // the unsampled request was not exported (spans in order: it came before the 503)
    expect(spans().some((s) => s.traceId === '1'.repeat(32))).toBe(false);
  });

  it('serves requests as usual while the collector is down', async () => {
    collector.closeAllConnections();
    await new Promise((r) => collector.close(r));
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) {
      const r = await get(`/down/${i}`, { traceparent: `00-${TRACE}-${PARENT}-01` });
      expect(r.status).toBe(200);
      expect(parseTraceparent(r.json.headers.Traceparent?.[0])?.traceId).toBe(TRACE);
    }
    expect(Date.now() - t0).toBeLessThan(5000);
    const dump = await eventually(async () => {
      const d = JSON.parse((await gateway.get(gateway.ports.admin, '/config_dump')).body);
      return d.tracing?.retries > 0 ? d : undefined;
    }, 10_000, 'a retried export in /config_dump');
    expect(dump.tracing).toMatchObject({ endpoint: `http://${LISTEN}:${collectorPort}/v1/traces` });
    expect(dump.tracing.exported).toBeGreaterThanOrEqual(3);
  });
});
