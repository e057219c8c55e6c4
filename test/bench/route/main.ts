/**
 * Route matching micro-benchmark: ns per `match` of the compiled RouteTable (core/route) against a
 * naive interpreter that walks the same RouteConfiguration objects per request (domain scan, path
 * split, lower-casing, header lookups; RegExps cached so construction does not dominate), for a
 * 10-route and a 100-route table. Also the weighted pick + endpoint pick after a match.
 * Run: node test/bench/run.mjs route [--ms 600]
 */
import { compileCluster } from '../../../core/route/clusters.ts';
import type { ForwardAction } from '../../../core/route/actions.ts';
import { compileRoutes } from '../../../core/route/table.ts';
import { FlatHeaders } from '../../../core/route/types.ts';
import type { RouteRequest } from '../../../core/route/types.ts';
import { seededRandom } from '../../../core/lb/seeded-random.ts';
import type { envoy } from '../../../core/xds/generated/xds-pb.js';

type RC = envoy.config.route.v3.RouteConfiguration.$Properties;
type Route = envoy.config.route.v3.Route.$Properties;

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MS = arg('ms', 600);

function makeConfig(n: number): RC {
  const routes: Route[] = [];
  for (let i = 0; i < n; i++) {
    const c = { cluster: `outbound|80||svc-${i}.default.svc.cluster.local` };
    switch (i % 5) {
      case 0:
        routes.push({ match: { path: `/exact/${i}` }, route: c });
        break;
      case 1:
        routes.push({ match: { pathSeparatedPrefix: `/api/v${i}` }, route: c });
        break;
      case 2:
        routes.push({ match: { prefix: `/static/${i}/`, headers: [{ name: 'x-tenant', stringMatch: { exact: `t${i}` } }] }, route: c });
        break;
      case 3:
        routes.push({ match: { safeRegex: { regex: `/items/${i}/[0-9]+` } }, route: c });
        break;
      default:
        routes.push({ match: { prefix: `/q/${i}`, queryParameters: [{ name: 'v', stringMatch: { exact: '2' } }] }, route: { weightedClusters: { clusters: [{ name: `a${i}`, weight: { value: 90 } }, { name: `b${i}`, weight: { value: 10 } }] } } });
    }
  }
  routes.push({ match: { prefix: '/' }, route: { cluster: 'default' } });
  return {
    name: 'bench',
    virtualHosts: [
      { name: 'other', domains: ['other.example.com', 'other.example.com:*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'other' } }] },
      { name: 'wild', domains: ['*.wild.example.com'], routes: [{ match: { prefix: '/' }, route: { cluster: 'wild' } }] },
      { name: 'shop', domains: ['shop.example.com', 'shop.example.com:*'], routes },
    ],
  };
}

function makeRequests(n: number): RouteRequest[] {
  const out: RouteRequest[] = [];
  const mk = (target: string, headers: string[] = []) => {
    const h = new FlatHeaders(['user-agent', 'bench', 'accept', '*/*', ...headers]);
    out.push({ method: 'GET', scheme: 'http', authority: 'shop.example.com', target, header: (name) => h.get(name) });
  };
  const at = [0, 1, 2, 3, 4, Math.floor(n / 2), Math.floor(n / 2) + 1, n - 3, n - 2, n - 1];
  for (const i of at) {
    switch (i % 5) {
      case 0:
        mk(`/exact/${i}`);
        break;
      case 1:
        mk(`/api/v${i}/users/42?page=2`);
        break;
      case 2:
        mk(`/static/${i}/app.js`, ['x-tenant', `t${i}`]);
        break;
      case 3:
        mk(`/items/${i}/12345`);
        break;
      default:
        mk(`/q/${i}?a=1&v=2`);
    }
  }
  mk('/fallthrough/path?x=1');
  return out;
}

/** The naive interpreter: reads the protos per request. */
function naiveMatch(rc: RC, req: RouteRequest, regexCache: Map<string, RegExp>): Route | undefined {
  const host = req.authority.toLowerCase();
  let vh: envoy.config.route.v3.VirtualHost.$Properties | undefined;
  for (const v of rc.virtualHosts ?? []) {
    for (const d of v.domains ?? []) {
      const dl = d.toLowerCase();
      if (dl === host || (dl.startsWith('*') && host.endsWith(dl.slice(1))) || (dl.endsWith('*') && host.startsWith(dl.slice(0, -1))) || dl === '*') {
        vh = v;
        break;
      }
    }
    if (vh) break;
  }
  if (!vh) return undefined;
  const [path = '', query = ''] = req.target.split('?');
  const params = new URLSearchParams(query);
  const re = (p: string) => {
    let r = regexCache.get(p);
    if (!r) regexCache.set(p, (r = new RegExp(`^(?:${p})$`)));
    return r;
  };
  for (const r of vh.routes ?? []) {
    const m = r.match!;
    const cs = m.caseSensitive?.value !== false;
    const p = cs ? path : path.toLowerCase();
    if (m.prefix != null && !p.startsWith(cs ? m.prefix : m.prefix.toLowerCase())) continue;
    if (m.path != null && p !== (cs ? m.path : m.path.toLowerCase())) continue;
    if (m.pathSeparatedPrefix != null) {
      const s = cs ? m.pathSeparatedPrefix : m.pathSeparatedPrefix.toLowerCase();
      if (!(p === s || p.startsWith(`${s}/`))) continue;
    }
    if (m.safeRegex != null && !re(m.safeRegex.regex ?? '').test(path)) continue;
    let ok = true;
    for (const h of m.headers ?? []) {
      const v = req.header(h.name!.toLowerCase());
      const sm = h.stringMatch;
      const hit = v !== undefined && (sm?.exact != null ? v === sm.exact : sm?.prefix != null ? v.startsWith(sm.prefix) : true);
      if (hit === !!h.invertMatch) ok = false;
    }
    for (const q of m.queryParameters ?? []) {
      const v = params.get(q.name!);
      if (v === null || (q.stringMatch?.exact != null && v !== q.stringMatch.exact)) ok = false;
    }
    if (ok) return r;
  }
  return undefined;
}

function time(fn: () => void, reqs: number): number {
  // Warm up, then run whole rounds for MS milliseconds.
  const until = performance.now() + 150;
  while (performance.now() < until) fn();
  let rounds = 0;
  const start = performance.now();
  let now = start;
  while (now - start < MS) {
    for (let i = 0; i < 50; i++) fn();
    rounds += 50;
    now = performance.now();
  }
  return ((now - start) * 1e6) / (rounds * reqs);
}

const rows: string[][] = [];
let sink = 0;
for (const n of [10, 100]) {
  const rc = makeConfig(n);
  const table = compileRoutes(rc);
  const reqs = makeRequests(n);
  // Both find the same route for every request.
  const cache = new Map<string, RegExp>();
  for (const r of reqs) {
    const a = table.match(r);
    const b = naiveMatch(rc, r, cache);
    const ca = a && a.action.kind === 'forward' ? (a.action as ForwardAction).clusters[0]!.name : undefined;
    const cb = b?.route?.cluster ?? b?.route?.weightedClusters?.clusters?.[0]?.name;
    if (ca !== cb) throw new Error(`compiled and naive disagree on ${r.target}: ${ca} vs ${cb}`);
  }
  const compiled = time(() => {
    for (let i = 0; i < reqs.length; i++) if (table.match(reqs[i]!) !== undefined) sink++;
  }, reqs.length);
  const naive = time(() => {
    for (let i = 0; i < reqs.length; i++) if (naiveMatch(rc, reqs[i]!, cache) !== undefined) sink++;
  }, reqs.length);
  const random = seededRandom(1);
  const cluster = compileCluster(
    { name: 'c', loadAssignment: { endpoints: [{ lbEndpoints: Array.from({ length: 8 }, (_, i) => ({ endpoint: { address: { socketAddress: { address: `10.0.0.${i + 1}`, portValue: 80 } } } })) }] } },
    undefined,
  );
  const full = time(() => {
    for (let i = 0; i < reqs.length; i++) {
      const r = table.match(reqs[i]!)!;
      if (r.action.kind === 'forward') {
        const choice = r.action.pick(random);
        if (!choice.invalid && cluster.pick() !== undefined) sink++;
      }
    }
  }, reqs.length);
  rows.push([`${n} routes`, compiled.toFixed(0), naive.toFixed(0), (naive / compiled).toFixed(1) + 'x', full.toFixed(0)]);
}

const head = ['table', 'compiled ns/match', 'naive ns/match', 'speed-up', 'match+weighted+endpoint ns'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
console.log(`route matching, ${makeRequests(10).length} requests per round (hits early, middle, late and a fall-through), ${MS} ms per cell, node ${process.version}`);
console.log(line(head));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
if (sink === 42) console.log('');
