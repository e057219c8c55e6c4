/**
 * A conformance harness in the manner of sigs.k8s.io/gateway-api's conformance suite
 * (conformance/utils/http, utils/roundtripper), for Weft's own L7 suites: ONE `weft control` + ONE
 * `weft gateway` from the bundle, echo backends named like upstream's pods (`infra-backend-v1-<hash>-<hash>`),
 * every manifest in one config directory, and probes compared as the upstream client compares them
 * (see /work/shared/reference/echo-backend.md): a new connection per request, `X-Echo-Set-Header`
 * always sent, request header values joined with ",", 3 consecutive passes with a 100 ms poll.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEchoBackend, type EchoBackend } from './echo-backend.ts';
import { freePort } from './proxy-fixtures.ts';
import { startGateway, type GatewayProcess } from './gateway-process.ts';
import { startControl, weftSync, type ControlProcess } from './weft-process.ts';

export interface BackendSpec {
  /** Service name, and the pod name's prefix (`<name>-<hash>-<hash>`). */
  name: string;
  namespace: string;
  /** Loopback address the echo listens on (all share one port). */
  address: string;
  /** Extra pod labels (the service selects `app: <name>`). */
  labels?: Record<string, string>;
  /** Several backends may share one service: the service they belong to (default: their own name). */
  service?: string;
}

export interface RunningBackend extends BackendSpec {
  pod: string;
  echo: EchoBackend;
}

export interface Harness {
  dir: string;
  control: ControlProcess;
  gateway: GatewayProcess;
  backends: Map<string, RunningBackend>;
  port: number;
  stop(): Promise<void>;
  status(): Promise<DebugStatus>;
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export interface DebugStatus {
  gatewayApi: {
    gateways: { namespace: string; name: string; conditions: Condition[]; listeners: { name: string; attachedRoutes: number; conditions: Condition[] }[] }[];
    routes: { kind: string; namespace: string; name: string; parents: { parentRef: { name: string; namespace: string; sectionName?: string }; conditions: Condition[] }[] }[];
  };
  [k: string]: unknown;
}

const hash = (n: number) => Math.floor(Math.random() * 36 ** n).toString(36).padStart(n, '0');

export { freePort };

/** A random 127.N.0.0/16 block for one run (so concurrent runs of other suites do not collide). */
export function loopbackBlock(): (i: number, j?: number) => string {
  const n = 100 + Math.floor(Math.random() * 150);
  return (i: number, j = 1) => `127.${n}.${i}.${j}`;
}

/** Echo backends on their addresses, one common port. */
export async function startBackends(specs: readonly BackendSpec[]): Promise<{ port: number; backends: Map<string, RunningBackend> }> {
  for (let tries = 0; tries < 20; tries++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const started: RunningBackend[] = [];
    try {
      for (const s of specs) {
        const pod = `${s.name}-${hash(10)}-${hash(5)}`;
        const echo = await startEchoBackend({ host: s.address, httpPort: port, h2cPort: null, pod, namespace: s.namespace, log: () => {} });
        started.push({ ...s, pod, echo });
      }
      return { port, backends: new Map(started.map((b) => [b.name, b])) };
    } catch {
      for (const b of started) await b.echo.close();
    }
  }
  throw new Error('no common free port for the echo backends');
}

/** Namespaces, Services (port 8080 -> the echo port) and WorkloadEntries for the backends. */
export function backendYaml(backends: Iterable<RunningBackend>, port: number, servicePort = 8080): string {
  const docs: string[] = [];
  const namespaces = new Set<string>();
  const services = new Map<string, string>();
  let vip = 1;
  for (const b of backends) {
    namespaces.add(b.namespace);
    const svc = b.service ?? b.name;
    if (!services.has(`${b.namespace}/${svc}`)) {
      services.set(`${b.namespace}/${svc}`, svc);
      docs.push(`apiVersion: v1
kind: Service
metadata: { name: ${svc}, namespace: ${b.namespace} }
spec:
  clusterIP: 240.240.9.${vip++}
  selector: { app: ${svc} }
  ports: [{ name: http, port: ${servicePort}, targetPort: ${port} }]
`);
    }
    const labels = JSON.stringify({ app: svc, 'weft.io/node': 'n1', ...(b.labels ?? {}) });
    docs.push(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${b.pod}, namespace: ${b.namespace}, labels: ${labels} }
spec: { address: ${b.address}, labels: ${labels} }
`);
  }
  const ns = [...namespaces].map((n) => `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${n} }\n`);
  return [...ns, ...docs].join('---\n');
}

/** Starts backends, writes `manifests(port)` beside them, then one control plane and one gateway. */
export async function startHarness(o: { specs: readonly BackendSpec[]; manifests: (echoPort: number) => string; files?: Record<string, string>; token: string[]; gatewayArgs?: string[] }): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-conf-'));
  const state = join(dir, 'state');
  const config = join(dir, 'config');
  execFileSync('mkdir', ['-p', config, state]);
  const { port, backends } = await startBackends(o.specs);
  writeFileSync(join(config, 'backends.yaml'), backendYaml(backends.values(), port));
  writeFileSync(join(config, 'manifests.yaml'), o.manifests(port));
  for (const [name, text] of Object.entries(o.files ?? {})) writeFileSync(join(config, name), text);
  let control: ControlProcess | undefined;
  let gateway: GatewayProcess | undefined;
  const stop = async () => {
    await gateway?.stop();
    await control?.stop();
    for (const b of backends.values()) await b.echo.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    control = await startControl(['--config', config, '--state', state]);
    const token = weftSync(['token', 'create', ...o.token, '--state', state]).stdout.trim();
    gateway = await startGateway({ control: control.secure, rootCert: join(state, 'root-cert.pem'), token, listen: '127.0.0.1', ports: { admin: await freePort(), stats: await freePort(), ready: await freePort() }, args: o.gatewayArgs ?? [] });
    await gateway.waitReady(30_000);
  } catch (e) {
    await stop();
    throw e;
  }
  const c = control;
  return {
    dir,
    control: c,
    gateway,
    backends,
    port,
    stop,
    async status() {
      const r = await fetch(`${c.http}/debug/status`, { signal: AbortSignal.timeout(5000) });
      return (await r.json()) as DebugStatus;
    },
  };
}

// ---- requests and expectations, as the upstream client makes and compares them

export interface Req {
  /** Gateway address (`ip` or `ip:port`, port 80 when absent). */
  gw: string;
  path: string;
  host?: string;
  method?: string;
  headers?: Record<string, string>;
  /** Response headers the echo backend is asked to set (X-Echo-Set-Header). */
  backendSetResponseHeaders?: Record<string, string>;
  timeoutMs?: number;
}

export interface Expect {
  /** One status or several (a timeout code 408/504 matches any expected timeout code). Default 200. */
  status?: number | number[];
  /** Pod name prefix of the backend that must answer (on 200). */
  backend?: string;
  namespace?: string;
  /** What the backend must have received (defaults: the request's path, method GET, the request's headers). */
  request?: { path?: string; host?: string; method?: string; headers?: Record<string, string>; absentHeaders?: string[] };
  response?: { headers?: Record<string, string>; absentHeaders?: string[] };
  /** On 3xx: the Location's parts (port undefined: empty or the scheme's default). */
  redirect?: { scheme?: string; host?: string; port?: string; path?: string };
}

export interface Res {
  status: number;
  /** Lower-case names, values joined with "," (Go's header map joined as the suite does). */
  headers: Record<string, string>;
  body: string;
  json?: EchoBody;
}

export interface EchoBody {
  path: string;
  host: string;
  method: string;
  headers: Record<string, string[]>;
  namespace: string;
  pod: string;
}

/** One request on a new connection (keep-alive off), X-Echo-Set-Header always sent. */
export function roundTrip(r: Req): Promise<Res> {
  const [host, port] = r.gw.includes(':') ? [r.gw.slice(0, r.gw.lastIndexOf(':')), Number(r.gw.slice(r.gw.lastIndexOf(':') + 1))] : [r.gw, 80];
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  headers['X-Echo-Set-Header'] = Object.entries(r.backendSetResponseHeaders ?? {}).map(([k, v]) => `${k}:${v}`).join(',');
  headers['Host'] = r.host ?? r.gw;
  headers['Connection'] = 'close';
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path: r.path, method: r.method ?? 'GET', agent: false, headers, timeout: r.timeoutMs ?? 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        const h: Record<string, string> = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const k = res.rawHeaders[i]!.toLowerCase();
          h[k] = h[k] === undefined ? res.rawHeaders[i + 1]! : `${h[k]},${res.rawHeaders[i + 1]!}`;
        }
        let json: EchoBody | undefined;
        if (res.headers['content-type'] === 'application/json') {
          try {
            json = JSON.parse(body) as EchoBody;
          } catch {}
        }
        resolve({ status: res.statusCode ?? 0, headers: h, body, ...(json ? { json } : {}) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timeout')));
    req.on('error', reject);
    req.end();
  });
}

const isTimeout = (s: number) => s === 408 || s === 504;

/** Upstream's CompareRoundTrip, restated: undefined when `res` meets `exp`, else why not. */
export function compare(r: Req, exp: Expect, res: Res): string | undefined {
  const want = Array.isArray(exp.status) ? exp.status : [exp.status ?? 200];
  if (!(isTimeout(res.status) && want.some(isTimeout)) && !want.includes(res.status)) return `status ${res.status}, want ${want.join('|')} (${res.body.slice(0, 200)})`;
  if (res.status === 200 || res.status === 204) {
    const b = res.json;
    if (!b) return `no echo body (content-type ${res.headers['content-type']})`;
    const er = exp.request ?? {};
    const host = er.host ?? r.host;
    if (host && host !== b.host) return `host ${b.host}, want ${host}`;
    const path = er.path ?? r.path;
    if (path !== b.path) return `path ${b.path}, want ${path}`;
    const method = er.method ?? r.method ?? 'GET';
    if (method !== b.method) return `method ${b.method}, want ${method}`;
    if ((exp.namespace ?? '') !== b.namespace) return `namespace ${b.namespace}, want ${exp.namespace ?? ''}`;
    const got = new Map(Object.entries(b.headers).map(([k, v]) => [k.toLowerCase(), v.join(',')]));
    for (const [k, v] of Object.entries(er.headers ?? (exp.request ? {} : (r.headers ?? {})))) {
      if (!got.has(k.toLowerCase())) return `request header ${k} missing (have ${[...got.keys()].join(' ')})`;
      if (got.get(k.toLowerCase()) !== v) return `request header ${k}: ${got.get(k.toLowerCase())}, want ${v}`;
    }
    for (const [k, v] of Object.entries(exp.response?.headers ?? {})) {
      const g = res.headers[k.toLowerCase()];
      if (g === undefined) return `response header ${k} missing`;
      if (g !== v) return `response header ${k}: ${g}, want ${v}`;
    }
    for (const k of exp.response?.absentHeaders ?? []) if (res.headers[k.toLowerCase()] !== undefined) return `response header ${k} present: ${res.headers[k.toLowerCase()]}`;
    for (const k of er.absentHeaders ?? []) if (got.has(k.toLowerCase())) return `request header ${k} present: ${got.get(k.toLowerCase())}`;
    if (!b.pod.startsWith(exp.backend ?? '')) return `pod ${b.pod}, want ${exp.backend}-*`;
  } else if (res.status >= 300 && res.status < 400 && exp.redirect) {
    const loc = res.headers['location'];
    if (!loc) return 'no Location';
    let u: URL;
    try {
      u = new URL(loc);
    } catch {
      return `Location ${loc} is not a URL`;
    }
    const scheme = u.protocol.slice(0, -1);
    const rd = exp.redirect;
    const wantHost = rd.host ?? u.hostname;
    if (u.hostname !== wantHost) return `Location ${loc}: host ${u.hostname}, want ${wantHost}`;
    // WHATWG URL drops a scheme's default port already; a non-default one shows here
    const port = u.port;
    if (rd.port === undefined) {
      if (port !== '') return `Location ${loc}: port ${port}, want none or the scheme's default`;
    } else if (rd.port !== port && !((rd.port === '80' && scheme === 'http') || (rd.port === '443' && scheme === 'https'))) return `Location ${loc}: port ${port}, want ${rd.port}`;
    if (loc.match(/^[a-z]+:\/\/[^/]*:(80|443)(\/|$)/) && rd.port === undefined) {
      // explicit default ports are fine for the upstream client too
    }
    const wantScheme = rd.scheme ?? 'http';
    if (scheme !== wantScheme) return `Location ${loc}: scheme ${scheme}, want ${wantScheme}`;
    const wantPath = rd.path ?? r.path.split('?')[0];
    if (u.pathname !== wantPath) return `Location ${loc}: path ${u.pathname}, want ${wantPath}`;
  }
  return undefined;
}

/** MakeRequestAndExpectEventuallyConsistentResponse: `passes` consecutive matches, polling every 100 ms within `budgetMs`. */
export async function expectEventually(r: Req, exp: Expect, o: { budgetMs?: number; passes?: number } = {}): Promise<Res> {
  const end = Date.now() + (o.budgetMs ?? 20_000);
  const need = o.passes ?? 3;
  let streak = 0;
  let last = '';
  for (;;) {
    let res: Res | undefined;
    try {
      res = await roundTrip(r);
      const why = compare(r, exp, res);
      if (why === undefined) {
        if (++streak >= need) return res;
        continue;
      }
      last = why;
    } catch (e) {
      last = (e as Error).message;
    }
    streak = 0;
    if (Date.now() > end) throw new Error(`${r.method ?? 'GET'} ${r.host ?? r.gw}${r.path}: ${last}`);
    await new Promise((x) => setTimeout(x, 100));
  }
}

/** The pod's backend name: the pod name without its last two `-` parts (as the weight test recovers it). */
export function backendOf(pod: string): string {
  return pod.split('-').slice(0, -2).join('-');
}

/** Polls `fn` (bounded) until it returns a value. */
export async function poll<T>(fn: () => Promise<T | undefined> | T | undefined, budgetMs: number, what: string): Promise<T> {
  const end = Date.now() + budgetMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((x) => setTimeout(x, 100));
  }
}
