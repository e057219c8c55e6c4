/**
 * Istio routing through `weft gateway`: an Istio `Gateway` (selected by `istio=ingressgateway`, bound
 * to port 80 of its own loopback address), VirtualServices and DestinationRules, against ONE control
 * plane + ONE gateway from the bundle and conformance echo backends. The seed workflow (example.com
 * to `my-service` subset v1), an 80/20 canary, retries over a flaky backend, outlier detection that
 * ejects a failing endpoint and lets it back after baseEjectionTime, fault delay and abort, route
 * timeouts, mirroring, header set/add/remove, redirect, rewrite and CORS. Probes compare as the
 * Gateway API conformance client does (test/support/conformance.ts).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendOf, expectEventually, loopbackBlock, poll, roundTrip, startHarness, type BackendSpec, type Expect, type Harness, type Req } from '../support/conformance.ts';

const NS = 'istio-demo';
const addr = loopbackBlock();
const GW = addr(1);
const BUDGET = Number(process.env.WEFT_PROBE_BUDGET_MS ?? 15_000);

const SPECS: BackendSpec[] = [
  { name: 'my-service-v1', service: 'my-service', namespace: NS, address: addr(200, 1), labels: { version: 'v1' } },
  { name: 'my-service-v2', service: 'my-service', namespace: NS, address: addr(200, 2), labels: { version: 'v2' } },
  { name: 'flaky', namespace: NS, address: addr(200, 3) },
  { name: 'outlier-good', service: 'outlier', namespace: NS, address: addr(200, 4) },
  { name: 'mirror-target', namespace: NS, address: addr(200, 6) },
];
/** Not echo servers: an endpoint of `outlier` that fails until told otherwise, and a mirror that always fails. */
const BAD = addr(200, 5);
const BROKEN = addr(200, 7);

function manifests(port: number): string {
  const we = (name: string, app: string, address: string) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}, namespace: ${NS}, labels: { app: ${app}, weft.io/node: n1 } }
spec: { address: ${address}, labels: { app: ${app}, weft.io/node: n1 } }
`;
  const vs = (name: string, host: string, http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${NS} }
spec:
  hosts: [${host}]
  gateways: [ingress]
  http:
${http}`;
  const dest = (host: string, subset?: string) => `{ host: ${host}${subset ? `, subset: ${subset}` : ''} }`;
  return [
    we('outlier-bad', 'outlier', BAD),
    `apiVersion: v1
kind: Service
metadata: { name: broken, namespace: ${NS} }
spec: { clusterIP: 240.240.9.100, selector: { app: broken }, ports: [{ name: http, port: 8080, targetPort: ${port} }] }
`,
    we('broken-0', 'broken', BROKEN),
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ingress, namespace: ${NS} }
spec:
  selector: { istio: ingressgateway }
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, bind: ${GW}, hosts: [example.com, "*.example.com"] }]
`,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: my-service, namespace: ${NS} }
spec:
  host: my-service
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
`,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: outlier, namespace: ${NS} }
spec:
  host: outlier
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 2s, maxEjectionPercent: 100 }
`,
    // the seed workflow, with the canary on /v1/completions ahead of the default route
    vs('my-service', 'example.com', `  - match: [{ uri: { prefix: /v1/completions } }]
    route: [{ destination: ${dest('my-service', 'v1')}, weight: 80 }, { destination: ${dest('my-service', 'v2')}, weight: 20 }]
  - route: [{ destination: ${dest('my-service', 'v1')} }]
`),
    // no retries field: Istio's default policy (2 retries on 503 among others); explicit 5xx retries; none
    vs('retries', 'retries.example.com', `  - match: [{ uri: { prefix: /default } }]
    rewrite: { uri: /retry }
    route: [{ destination: ${dest('flaky')} }]
  - match: [{ uri: { prefix: /three } }]
    rewrite: { uri: /retry }
    retries: { attempts: 3, retryOn: 5xx, perTryTimeout: 2s }
    route: [{ destination: ${dest('flaky')} }]
  - match: [{ uri: { prefix: /none } }]
    rewrite: { uri: /retry }
    retries: { attempts: 0 }
    route: [{ destination: ${dest('flaky')} }]
`),
    vs('outlier', 'outlier.example.com', `  - retries: { attempts: 0 }
    route: [{ destination: ${dest('outlier')} }]
`),
    vs('faults', 'fault.example.com', `  - match: [{ uri: { prefix: /delay } }]
    fault: { delay: { fixedDelay: 600ms, percentage: { value: 100 } } }
    route: [{ destination: ${dest('my-service', 'v1')} }]
  - match: [{ uri: { prefix: /abort } }]
    fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
    route: [{ destination: ${dest('my-service', 'v1')} }]
`),
    vs('timeouts', 'timeout.example.com', `  - timeout: 500ms
    route: [{ destination: ${dest('my-service', 'v1')} }]
`),
    vs('mirrors', 'mirror.example.com', `  - match: [{ uri: { prefix: /broken } }]
    route: [{ destination: ${dest('my-service', 'v1')} }]
    mirror: { host: broken }
    mirrorPercentage: { value: 100 }
  - route: [{ destination: ${dest('my-service', 'v1')} }]
    mirror: { host: mirror-target }
    mirrorPercentage: { value: 100 }
`),
    vs('headers', 'headers.example.com', `  - headers:
      request: { set: { x-set: set-value }, add: { x-add: added }, remove: [x-remove] }
      response: { set: { x-resp-set: resp-set }, add: { x-resp-add: resp-added }, remove: [x-resp-remove] }
    route: [{ destination: ${dest('my-service', 'v1')} }]
`),
    vs('redirects', 'redirect.example.com', `  - match: [{ uri: { prefix: /old } }]
    redirect: { uri: /new, authority: new.example.com, redirectCode: 302 }
  - match: [{ uri: { prefix: /secure } }]
    redirect: { scheme: https, derivePort: FROM_PROTOCOL_DEFAULT }
`),
    vs('rewrites', 'rewrite.example.com', `  - match: [{ uri: { prefix: /v1/ } }]
    rewrite: { uri: /v2/, authority: rewritten.example.com }
    route: [{ destination: ${dest('my-service', 'v1')} }]
`),
    vs('cors', 'cors.example.com', `  - corsPolicy:
      allowOrigins: [{ exact: "https://app.example.com" }]
      allowMethods: [GET, POST]
      allowHeaders: [x-custom]
      exposeHeaders: [x-exposed]
      maxAge: 24h
      allowCredentials: true
    route: [{ destination: ${dest('my-service', 'v1')} }]
`),
  ].join('---\n');
}

let h: Harness;
let bad: Server;
let broken: Server;
let badHealthy = false;
let badHits = 0;
let brokenHits = 0;

function listen(s: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, host, () => resolve());
  });
}

beforeAll(async () => {
  h = await startHarness({ specs: SPECS, manifests, token: ['--gateway', 'istio-system/istio-ingressgateway'], gatewayArgs: ['--label', 'istio=ingressgateway'] });
  bad = createServer((req, res) => {
    badHits++;
    req.resume();
    if (!badHealthy) return void res.writeHead(503).end('failing');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, host: req.headers.host, method: req.method, headers: {}, namespace: NS, pod: 'outlier-bad-0-0' }));
  });
  broken = createServer((req, res) => {
    brokenHits++;
    req.resume();
    res.writeHead(500).end('mirror says no');
  });
  await listen(bad, BAD, h.port);
  await listen(broken, BROKEN, h.port);
}, 60_000);

afterAll(async () => {
  bad?.close();
  broken?.close();
  bad?.closeAllConnections();
  broken?.closeAllConnections();
  await h?.stop();
});

const ok = (backend: string, extra: Partial<Expect> = {}): Expect => ({ backend, namespace: NS, ...extra });
const probe = (r: Omit<Req, 'gw'>, e: Expect) => expectEventually({ gw: GW, ...r }, e, { budgetMs: BUDGET });

async function split(host: string, path: string, total: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      const r = await roundTrip({ gw: GW, host, path });
      expect(r.status).toBe(200);
      const b = backendOf(r.json!.pod);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return counts;
}

describe('Istio Gateway + VirtualService + DestinationRule (weft gateway)', () => {
  it('seed: example.com on port 80 goes to my-service subset v1 only; other hosts get 404', async () => {
    await probe({ host: 'example.com', path: '/' }, ok('my-service-v1'));
    const counts = await split('example.com', '/', 40);
    expect([...counts.keys()]).toEqual(['my-service-v1']);
    await probe({ host: 'other.example', path: '/' }, { status: 404 });
  });

  it('canary: /v1/completions splits 80/20 over 1,000 requests within 5 points', async () => {
    await probe({ host: 'example.com', path: '/v1/completions' }, ok('my-service-v'));
    const counts = await split('example.com', '/v1/completions', 1000);
    const v1 = (counts.get('my-service-v1') ?? 0) / 1000;
    expect(Math.abs(v1 - 0.8), JSON.stringify([...counts])).toBeLessThanOrEqual(0.05);
    expect((counts.get('my-service-v1') ?? 0) + (counts.get('my-service-v2') ?? 0)).toBe(1000);
  });

  it("retries turn a flaky backend's 503s into 200s (Istio's default policy and an explicit one)", async () => {
    const flaky = (path: string, succeedAfter: number) => `${path}?uuid=${randomUUID()}&succeedAfter=${succeedAfter}&responseCode=503`;
    // default: 2 retries on 503
    for (let i = 0; i < 3; i++) {
      const p = flaky('/default', 2);
      const r = await roundTrip({ gw: GW, host: 'retries.example.com', path: p });
      expect(r.status, r.body).toBe(200);
      expect(r.json!.pod.startsWith('flaky-')).toBe(true);
    }
    // explicit: 3 attempts on 5xx
    expect((await roundTrip({ gw: GW, host: 'retries.example.com', path: flaky('/three', 3) })).status).toBe(200);
    // attempts beyond the policy: the last 503 is passed on
    expect((await roundTrip({ gw: GW, host: 'retries.example.com', path: flaky('/three', 4) })).status).toBe(503);
    expect((await roundTrip({ gw: GW, host: 'retries.example.com', path: flaky('/default', 3) })).status).toBe(503);
    // retries off: the first 503 is the answer
    expect((await roundTrip({ gw: GW, host: 'retries.example.com', path: flaky('/none', 1) })).status).toBe(503);
    // the simulator counted the attempts: one more request with the same uuid succeeds right away
    const u = randomUUID();
    expect((await roundTrip({ gw: GW, host: 'retries.example.com', path: `/none?uuid=${u}&succeedAfter=1&responseCode=503` })).status).toBe(503);
    expect((await roundTrip({ gw: GW, host: 'retries.example.com', path: `/none?uuid=${u}&succeedAfter=1&responseCode=503` })).status).toBe(200);
  });

  it('outlier detection ejects the failing endpoint after consecutive 5xx and returns it after baseEjectionTime', async () => {
    await probe({ host: 'outlier.example.com', path: '/' }, { status: [200, 503], namespace: NS });
    // until ejected: some 503s from the bad endpoint, then only the good one answers
    let streak = 0;
    let lastFailureAt = Date.now();
    const failures: number[] = [];
    await poll(async () => {
      const r = await roundTrip({ gw: GW, host: 'outlier.example.com', path: '/' });
      if (r.status === 200) streak++;
      else {
        failures.push(r.status);
        lastFailureAt = Date.now();
        streak = 0;
      }
      return streak >= 12 ? true : undefined;
    }, 15_000, '12 answers in a row from the healthy endpoint');
    // consecutive5xxErrors 3: the bad endpoint answered at least 3 times (some during the first probe), never since
    expect(badHits).toBeGreaterThanOrEqual(3);
    for (const s of failures) expect(s).toBe(503);
    const dump = JSON.parse((await h.gateway.get(h.gateway.ports.admin, '/config_dump')).body) as { clusters: { name: string; endpoints: { address: string; ejected: boolean }[] }[] };
    const c = dump.clusters.find((x) => x.name === 'outbound|8080||outlier.istio-demo.svc.cluster.local')!;
    expect(c.endpoints.find((e) => e.address.startsWith(`${BAD}:`))?.ejected).toBe(true);
    // the endpoint recovers; after baseEjectionTime (2 s) it takes requests again
    badHealthy = true;
    const hitsBefore = badHits;
    await poll(async () => {
      const r = await roundTrip({ gw: GW, host: 'outlier.example.com', path: '/' });
      return r.status === 200 && r.json?.pod === 'outlier-bad-0-0' ? true : undefined;
    }, 15_000, 'the ejected endpoint back in rotation');
    // ejected when its last 5xx was reported (just before that answer reached us), for baseEjectionTime 2 s
    expect(Date.now() - lastFailureAt).toBeGreaterThanOrEqual(1800);
    expect(badHits).toBeGreaterThan(hitsBefore);
  });

  it('fault injection: a fixed delay, and an abort with its status', async () => {
    await probe({ host: 'fault.example.com', path: '/delay' }, ok('my-service-v1'));
    const t0 = Date.now();
    const r = await roundTrip({ gw: GW, host: 'fault.example.com', path: '/delay' });
    expect(r.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    await probe({ host: 'fault.example.com', path: '/abort' }, { status: 418 });
  });

  it('a route timeout answers 504 when the backend is slower, and passes a fast answer', async () => {
    await probe({ host: 'timeout.example.com', path: '/?delay=1s' }, { status: 504 });
    await probe({ host: 'timeout.example.com', path: '/?delay=10ms' }, ok('my-service-v1'));
  });

  it('mirroring reaches the mirror, and its answer is ignored', async () => {
    const mirror = h.backends.get('mirror-target')!.echo;
    const path = `/mirrored-${randomUUID()}`;
    const r = await roundTrip({ gw: GW, host: 'mirror.example.com', path });
    expect(r.status).toBe(200);
    expect(r.json!.pod.startsWith('my-service-v1-')).toBe(true);
    await poll(() => (mirror.lines.some((l) => l.startsWith(`Echoing back request made to ${path} to client (`)) ? true : undefined), 10_000, 'the mirrored request in the mirror\'s log');
    expect(mirror.lines.filter((l) => l.startsWith(`Echoing back request made to ${path} to client (`))).toHaveLength(1);
    // a mirror that answers 500 changes nothing for the client
    const before = brokenHits;
    await probe({ host: 'mirror.example.com', path: '/broken' }, ok('my-service-v1'));
    await poll(() => (brokenHits > before ? true : undefined), 10_000, 'requests mirrored to the broken backend');
  });

  it('header manipulation: request and response set, add, remove', async () => {
    await probe(
      { host: 'headers.example.com', path: '/', headers: { 'x-set': 'original', 'x-add': 'first', 'x-remove': 'bye' }, backendSetResponseHeaders: { 'X-Resp-Set': 'backend', 'X-Resp-Add': 'backend', 'X-Resp-Remove': 'gone' } },
      ok('my-service-v1', {
        request: { headers: { 'X-Set': 'set-value', 'X-Add': 'first,added' }, absentHeaders: ['X-Remove'] },
        response: { headers: { 'X-Resp-Set': 'resp-set', 'X-Resp-Add': 'backend,resp-added' }, absentHeaders: ['X-Resp-Remove'] },
      }),
    );
  });

  it('redirect: uri, authority and code; a scheme redirect to the default port', async () => {
    await probe({ host: 'redirect.example.com', path: '/old/page?q=1' }, { status: 302, redirect: { host: 'new.example.com', path: '/new' } });
    const r = await roundTrip({ gw: GW, host: 'redirect.example.com', path: '/old/page?q=1' });
    expect(r.headers.location).toBe('http://new.example.com/new?q=1');
    await probe({ host: 'redirect.example.com', path: '/secure/x' }, { status: 301, redirect: { scheme: 'https', host: 'redirect.example.com', path: '/secure/x' } });
  });

  it('rewrite: uri prefix and authority', async () => {
    await probe({ host: 'rewrite.example.com', path: '/v1/items?x=1' }, ok('my-service-v1', { request: { path: '/v2/items?x=1', host: 'rewritten.example.com' } }));
  });

  it('CORS: a preflight from an allowed origin is answered by the gateway; the actual request gets the CORS headers', async () => {
    const preflight = { gw: GW, host: 'cors.example.com', path: '/', method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-custom' } };
    const pre = await poll(async () => {
      const r = await roundTrip(preflight);
      return r.headers['access-control-allow-origin'] !== undefined ? r : undefined;
    }, BUDGET, 'a CORS preflight answer');
    expect(pre.status).toBe(200);
    expect(pre.json, 'answered by the gateway, not the backend').toBeUndefined();
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(pre.headers['access-control-allow-methods']).toBe('GET,POST');
    expect(pre.headers['access-control-allow-headers']).toBe('x-custom');
    expect(pre.headers['access-control-max-age']).toBe('86400');
    expect(pre.headers['access-control-allow-credentials']).toBe('true');
    const actual = await roundTrip({ gw: GW, host: 'cors.example.com', path: '/', headers: { Origin: 'https://app.example.com' } });
    expect(actual.status).toBe(200);
    expect(actual.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(actual.headers['access-control-expose-headers']).toBe('x-exposed');
    // an origin that is not allowed gets no CORS headers
    const other = await roundTrip({ gw: GW, host: 'cors.example.com', path: '/', headers: { Origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
