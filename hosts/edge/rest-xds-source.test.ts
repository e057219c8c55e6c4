/**
 * RestXdsSource against a local HTTP server that answers as the control plane's REST xDS does
 * (versionInfo, 304 when unchanged), and can fail or hang per type.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REST_XDS_TYPES, type DiscoveryResponseJson, type RestXdsType } from './config-contract.ts';
import { GATEWAY_TYPES, RestXdsSource, type Timers } from './rest-xds-source.ts';

type Set = Partial<Record<RestXdsType, DiscoveryResponseJson>>;

interface Fake {
  versions: Partial<Record<RestXdsType, string>>;
  fail: Partial<Record<RestXdsType, number>>;
  hang: Partial<Record<RestXdsType, boolean>>;
  requests: { type: string; body: Record<string, any>; auth: string | undefined }[];
  closedEarly: number;
}

let server: Server;
let url: string;
let fake: Fake;

beforeEach(async () => {
  fake = { versions: Object.fromEntries(GATEWAY_TYPES.map((t) => [t, 'v1'])), fail: {}, hang: {}, requests: [], closedEarly: 0 };
  server = createServer((req, res) => {
    void body(req).then((text) => {
      const type = (req.url ?? '').split(':')[1] as RestXdsType;
      const b = JSON.parse(text) as Record<string, any>;
      fake.requests.push({ type, body: b, auth: req.headers.authorization });
      if (fake.hang[type]) {
        res.on('close', () => fake.closedEarly++);
        return;
      }
      if (fake.fail[type]) {
        fake.fail[type]!--;
        res.writeHead(503).end('overloaded');
        return;
      }
      const v = fake.versions[type]!;
      if (b['versionInfo'] === v) return void res.writeHead(304).end();
      const typeUrl = REST_XDS_TYPES[type];
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ versionInfo: v, typeUrl, nonce: v, resources: [{ '@type': typeUrl, name: `${type}-${v}` }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (c: Buffer) => (s += c.toString()));
    req.on('end', () => resolve(s));
  });
}

/** Real timers, with every delay the source asks for recorded. */
function recordingTimers(): Timers & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    setTimeout: (fn, ms) => {
      delays.push(ms);
      return setTimeout(fn, ms);
    },
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const names = (s: Set) => Object.fromEntries(Object.entries(s).map(([t, r]) => [t, r!.resources.map((x) => x['name'])]));

describe('RestXdsSource', () => {
  it('delivers the whole set once every type is fetched, polls with its versions, and delivers again on a change', async () => {
    const sets: Set[] = [];
    const src = new RestXdsSource({ url: `${url}/`, token: 'tok', intervalMs: 20, labels: { istio: 'ingressgateway' }, node: { id: 'edge-7' } });
    src.start((s) => sets.push(s));
    await until(() => sets.length === 1);
    expect(names(sets[0]!)).toEqual(Object.fromEntries(GATEWAY_TYPES.map((t) => [t, [`${t}-v1`]])));
    const first = fake.requests.slice(0, 5);
    expect(first.map((r) => r.type).sort()).toEqual([...GATEWAY_TYPES].sort());
    for (const r of first) {
      expect(r.auth).toBe('Bearer tok');
      expect(r.body).toEqual({ node: { id: 'edge-7', metadata: { LABELS: { istio: 'ingressgateway' } } }, typeUrl: REST_XDS_TYPES[r.type as RestXdsType] });
    }
    // Unchanged rounds: 304s, no delivery.
    await until(() => fake.requests.length >= 15);
    expect(sets).toHaveLength(1);
    expect(fake.requests.slice(5, 10).every((r) => r.body['versionInfo'] === 'v1')).toBe(true);
    fake.versions.routes = 'v2';
    await until(() => sets.length === 2);
    expect(names(sets[1]!)['routes']).toEqual(['routes-v2']);
    expect(names(sets[1]!)['listeners']).toEqual(['listeners-v1']);
    src.stop();
    const n = fake.requests.length;
    await new Promise((r) => setTimeout(r, 80));
    expect(fake.requests.length).toBe(n);
  });

  it('delivers nothing until every type was fetched, and backs off with jitter while rounds fail', async () => {
    fake.fail.endpoints = 3;
    const sets: Set[] = [];
    const errors: string[] = [];
    const timers = recordingTimers();
    const src = new RestXdsSource({ url, token: 't', intervalMs: 25, timeoutMs: 999, backoffMs: { initial: 10, max: 40 }, random: () => 0.5, timers, onError: (e) => errors.push(e.message) });
    src.start((s) => sets.push(s));
    await until(() => sets.length === 1);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/discovery:endpoints: HTTP 503: overloaded/);
    // Waits asked for: start, then after each failure 10, 20, 40 less a quarter (random 0.5 takes off 25%).
    const waits = timers.delays.filter((d) => d !== 999);
    expect(waits.slice(0, 4)).toEqual([0, 8, 15, 30]);
    expect(waits[4]).toBe(25); // back to the interval after a good round
    expect(names(sets[0]!)['endpoints']).toEqual(['endpoints-v1']);
    expect(src.status.failures).toBe(3);
    src.stop();
  });

  it('keeps the last good set on errors and delivers only a complete, changed set afterwards', async () => {
    const sets: Set[] = [];
    const errors: string[] = [];
    const src = new RestXdsSource({ url, token: 't', intervalMs: 15, backoffMs: { initial: 5, max: 10 }, onError: (e) => errors.push(e.message) });
    src.start((s) => sets.push(s));
    await until(() => sets.length === 1);
    // A round where listeners change but clusters fail is dropped whole: no half-new set.
    fake.versions.listeners = 'v2';
    fake.fail.clusters = 2;
    await until(() => errors.length >= 2);
    expect(sets).toHaveLength(1);
    await until(() => sets.length === 2);
    expect(names(sets[1]!)['listeners']).toEqual(['listeners-v2']);
    expect(src.status.versions.listeners).toBe('v2');
    src.stop();
  });

  it('aborts a round that takes longer than its timeout', async () => {
    fake.hang.clusters = true;
    const errors: string[] = [];
    const src = new RestXdsSource({ url, token: 't', intervalMs: 1000, timeoutMs: 60, backoffMs: { initial: 1000 }, onError: (e) => errors.push(e.message) });
    const t0 = Date.now();
    src.start(() => {});
    await until(() => errors.length === 1);
    expect(errors[0]).toMatch(/timed out after 60 ms/);
    expect(Date.now() - t0).toBeLessThan(900);
    await until(() => fake.closedEarly === 1); // the request was really ended
    src.stop();
  });

  it('rejects an answer of the wrong shape as an error, not a config', async () => {
    server.removeAllListeners('request');
    server.on('request', (_req, res) => res.writeHead(200).end(JSON.stringify({ versionInfo: 'x', typeUrl: 'type.googleapis.com/wrong', resources: [] })));
    const errors: string[] = [];
    const src = new RestXdsSource({ url, token: 't', types: ['listeners'], backoffMs: { initial: 1000 }, onError: (e) => errors.push(e.message) });
    let delivered = false;
    src.start(() => (delivered = true));
    await until(() => errors.length === 1);
    expect(errors[0]).toMatch(/typeUrl: expected type\.googleapis\.com\/envoy\.config\.listener\.v3\.Listener/);
    expect(delivered).toBe(false);
    src.stop();
  });
});
