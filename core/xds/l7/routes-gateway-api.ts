/**
 * HTTPRoute and GRPCRoute rules -> Envoy Routes, in Gateway API precedence order (core/route/README.md:
 * the compiler never reorders). Filters: RequestHeaderModifier, ResponseHeaderModifier,
 * RequestRedirect, URLRewrite (ReplaceFullPath, ReplacePrefixMatch with the spec's slash rules),
 * RequestMirror; weighted backendRefs (an unresolved one is INVALID_BACKEND, all unresolved is a 500);
 * timeouts. Spec: https://gateway-api.sigs.k8s.io/reference/spec/#httproute (v1.4).
 *
 * PathPrefix is `path_separated_prefix` on gateways; in the per-service route configurations shared
 * with proxyless gRPC (which NACKs that field) it is an exact route plus a `prefix: <p>/` route, the
 * same set of paths.
 */
import type { ConfigResource } from '../../config/snapshot.ts';
import type { HTTPRouteSpec, GRPCRouteSpec } from '../../config/schema/gateway-api-routes.ts';
import { envoy } from '../pb.ts';
import type { HeaderMatcherProto, RedirectActionProto, RouteActionProto, RouteMatchProto, RouteProto } from '../pb.ts';
import type { Backends } from './backends.ts';
import { INVALID_BACKEND } from './names.ts';
import { addHeader, escapeRegex, fractionOf, msDuration, percentOf, setHeader } from './proto-util.ts';
import { parseGatewayDuration } from '../../config/schema/duration.ts';

export type Warn = (res: ConfigResource, path: string, message: string) => void;

export interface GatewayApiRouteOptions {
  backends: Backends;
  warn: Warn;
  /** Per-service route configuration (shared with proxyless gRPC): no path_separated_prefix. */
  mesh: boolean;
  /** The Gateway listener the route is attached to: a redirect without scheme or port keeps its port. */
  listener?: { port: number; protocol: string };
}

type HTTPRule = HTTPRouteSpec['rules'][number];
type HTTPMatch = HTTPRule['matches'][number];
type HTTPFilter = NonNullable<HTTPRule['filters']>[number];
type GRPCRule = NonNullable<GRPCRouteSpec['rules']>[number];

/** A route with what orders it (Gateway API precedence). */
export interface RankedRoute {
  routes: RouteProto[];
  /** 0 exact, 1 prefix, 2 regex. */
  pathRank: number;
  pathLength: number;
  method: boolean;
  headers: number;
  query: number;
  owner: string;
  rule: number;
  match: number;
}

const Code = envoy.config.route.v3.RedirectAction.RedirectResponseCode;

/** Gateway API precedence: exact path, longest prefix, then regex (longest), method, most headers, most query params, then route `ns/name`, rule and match order. */
export function compareRanked(a: RankedRoute, b: RankedRoute): number {
  return (
    a.pathRank - b.pathRank ||
    b.pathLength - a.pathLength ||
    Number(b.method) - Number(a.method) ||
    b.headers - a.headers ||
    b.query - a.query ||
    (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0) ||
    a.rule - b.rule ||
    a.match - b.match
  );
}

export function sortRanked(list: RankedRoute[]): RouteProto[] {
  return [...list].sort(compareRanked).flatMap((r) => r.routes);
}

const stripSlash = (p: string) => (p.length > 1 && p.endsWith('/') ? p.replace(/\/+$/, '') : p);

function headerMatchers(headers: HTTPMatch['headers']): HeaderMatcherProto[] {
  // Several matches of one header name: the first wins (the spec's rule for duplicates).
  const seen = new Set<string>();
  const out: HeaderMatcherProto[] = [];
  for (const h of headers ?? []) {
    const name = h.name.toLowerCase();
    if (seen.has(name)) continue;
    seen.add(name);
    out.push({ name, stringMatch: h.type === 'RegularExpression' ? { safeRegex: { regex: h.value } } : { exact: h.value } });
  }
  return out;
}

/** Path matchers of one HTTPRoute match: one, or two on mesh configurations (exact + `prefix/`). */
function pathMatches(path: HTTPMatch['path'], mesh: boolean): RouteMatchProto[] {
  if (path.type === 'Exact') return [{ path: path.value }];
  if (path.type === 'RegularExpression') return [{ safeRegex: { regex: path.value } }];
  const p = stripSlash(path.value);
  if (p === '/') return [{ prefix: '/' }];
  return mesh ? [{ path: p }, { prefix: `${p}/` }] : [{ pathSeparatedPrefix: p }];
}

/**
 * ReplacePrefixMatch for a route matching `prefix` (spec table: trailing slashes of prefix and
 * replacement do not count; an empty result is `/`). `matched` says which Envoy match the action
 * goes with: the whole prefix (gateways), the exact path or the `prefix/` route (mesh).
 */
function prefixRewrite(prefix: string, replacement: string, matched: RouteMatchProto): { prefixRewrite?: string; regexRewrite?: { pattern: { regex: string }; substitution: string } } {
  const p = stripSlash(prefix) === '/' ? '' : stripSlash(prefix);
  const r = replacement.replace(/\/+$/, '');
  if (matched.prefix !== undefined && matched.prefix !== null && matched.prefix.endsWith('/')) {
    // `p/` matched (or `/` for an empty prefix): keep the slash after the replacement.
    return { prefixRewrite: `${r}/` };
  }
  if (matched.path !== undefined && matched.path !== null) return { prefixRewrite: r || '/' };
  // path_separated_prefix p
  if (r) return { prefixRewrite: r };
  return { regexRewrite: { pattern: { regex: `^${escapeRegex(p)}/*` }, substitution: '/' } };
}

interface Mods {
  requestHeadersToAdd: ReturnType<typeof setHeader>[];
  requestHeadersToRemove: string[];
  responseHeadersToAdd: ReturnType<typeof setHeader>[];
  responseHeadersToRemove: string[];
}

function headerMods(filters: readonly HTTPFilter[]): Mods {
  const m: Mods = { requestHeadersToAdd: [], requestHeadersToRemove: [], responseHeadersToAdd: [], responseHeadersToRemove: [] };
  for (const f of filters) {
    const apply = (mod: HTTPFilter['requestHeaderModifier'], add: Mods['requestHeadersToAdd'], remove: string[]) => {
      for (const h of mod?.set ?? []) add.push(setHeader(h.name, h.value));
      for (const h of mod?.add ?? []) add.push(addHeader(h.name, h.value));
      for (const h of mod?.remove ?? []) remove.push(h);
    };
    if (f.type === 'RequestHeaderModifier') apply(f.requestHeaderModifier, m.requestHeadersToAdd, m.requestHeadersToRemove);
    if (f.type === 'ResponseHeaderModifier') apply(f.responseHeaderModifier, m.responseHeadersToAdd, m.responseHeadersToRemove);
  }
  return m;
}

function withMods(route: RouteProto, m: Mods): RouteProto {
  if (m.requestHeadersToAdd.length) route.requestHeadersToAdd = m.requestHeadersToAdd;
  if (m.requestHeadersToRemove.length) route.requestHeadersToRemove = m.requestHeadersToRemove;
  if (m.responseHeadersToAdd.length) route.responseHeadersToAdd = m.responseHeadersToAdd;
  if (m.responseHeadersToRemove.length) route.responseHeadersToRemove = m.responseHeadersToRemove;
  return route;
}

/** The forwarding part shared by HTTPRoute and GRPCRoute rules: backends, mirrors, timeout; undefined = respond 500. */
function forward(
  res: ConfigResource,
  at: string,
  rule: { backendRefs?: (HTTPRule['backendRefs'] & object)[number][]; filters?: readonly HTTPFilter[] },
  opts: GatewayApiRouteOptions,
): RouteActionProto | undefined {
  const refs = rule.backendRefs ?? [];
  const entries: { name: string; weight: number }[] = [];
  refs.forEach((b, i) => {
    if (b.filters?.length) opts.warn(res, `${at}.backendRefs[${i}].filters`, 'per-backend filters are not supported; move them to the rule (ignored)');
    entries.push({ name: opts.backends.gatewayApi(res, b), weight: b.weight });
  });
  const live = entries.filter((e) => e.weight > 0);
  if (live.length === 0 || live.every((e) => e.name === INVALID_BACKEND)) return undefined;
  const action: RouteActionProto =
    live.length === 1 ? { cluster: live[0]!.name } : { weightedClusters: { clusters: live.map((e) => ({ name: e.name, weight: { value: e.weight } })) } };
  const mirrors = (rule.filters ?? []).filter((f) => f.type === 'RequestMirror' && f.requestMirror);
  if (mirrors.length) {
    action.requestMirrorPolicies = mirrors.map((f) => {
      const m = f.requestMirror!;
      const cluster = opts.backends.gatewayApi(res, m.backendRef);
      const fraction = m.fraction ? fractionOf(m.fraction.numerator, m.fraction.denominator) : m.percent !== undefined ? percentOf(m.percent) : undefined;
      return { cluster, ...(fraction ? { runtimeFraction: { defaultValue: fraction } } : {}) };
    });
  }
  return action;
}

/** The Envoy routes of one HTTPRoute (unsorted; callers merge several routes and sort). */
export function httpRouteRoutes(res: ConfigResource, opts: GatewayApiRouteOptions): RankedRoute[] {
  const spec = res.spec as HTTPRouteSpec;
  const owner = `${res.metadata.namespace}/${res.metadata.name}`;
  const out: RankedRoute[] = [];
  spec.rules.forEach((rule, ri) => {
    const at = `spec.rules[${ri}]`;
    const filters = rule.filters ?? [];
    filters.forEach((f, fi) => {
      if (f.type === 'ExtensionRef') opts.warn(res, `${at}.filters[${fi}]`, `ExtensionRef filter ${f.extensionRef?.kind}/${f.extensionRef?.name} is not supported (ignored)`);
    });
    const mods = headerMods(filters);
    const redirect = filters.find((f) => f.type === 'RequestRedirect')?.requestRedirect;
    const rewrite = filters.find((f) => f.type === 'URLRewrite')?.urlRewrite;
    const base = redirect ? undefined : forward(res, at, rule, opts);
    const timeouts = rule.timeouts;
    const timeoutMs = timeouts ? (timeouts.backendRequest ? parseGatewayDuration(timeouts.backendRequest) : undefined) ?? (timeouts.request ? parseGatewayDuration(timeouts.request) : undefined) : undefined;
    rule.matches.forEach((m, mi) => {
      const headers = headerMatchers(m.headers);
      if (m.method) headers.unshift({ name: ':method', stringMatch: { exact: m.method } });
      const query = (m.queryParams ?? []).map((q) => ({ name: q.name, stringMatch: q.type === 'RegularExpression' ? { safeRegex: { regex: q.value } } : { exact: q.value } }));
      const routes = pathMatches(m.path, opts.mesh).map((pm, k) => {
        const match: RouteMatchProto = { ...pm, ...(headers.length ? { headers } : {}), ...(query.length ? { queryParameters: query } : {}) };
        const name = `${owner}.${rule.name ?? ri}.${mi}${k ? `.${k}` : ''}`;
        const r: RouteProto = { name, match };
        if (redirect) {
          const rd: RedirectActionProto = { responseCode: redirect.statusCode === 301 ? Code.MOVED_PERMANENTLY : Code.FOUND };
          if (redirect.scheme) rd.schemeRedirect = redirect.scheme;
          if (redirect.hostname) rd.hostRedirect = redirect.hostname;
          // Gateway API: no port means the scheme's well-known port when a scheme is given, else the
          // listener's port; the compiler leaves a scheme's default port out of the Location.
          if (redirect.port) rd.portRedirect = redirect.port;
          else if (redirect.scheme) rd.portRedirect = redirect.scheme === 'https' ? 443 : 80;
          else if (opts.listener) rd.portRedirect = opts.listener.port;
          if (redirect.path?.type === 'ReplaceFullPath') rd.pathRedirect = redirect.path.replaceFullPath!;
          if (redirect.path?.type === 'ReplacePrefixMatch') Object.assign(rd, prefixRewrite(m.path.value, redirect.path.replacePrefixMatch!, pm));
          r.redirect = rd;
        } else if (!base) {
          r.directResponse = { status: 500 };
        } else {
          const action: RouteActionProto = { ...base };
          if (timeoutMs !== undefined) action.timeout = msDuration(timeoutMs);
          if (rewrite?.hostname) action.hostRewriteLiteral = rewrite.hostname;
          if (rewrite?.path?.type === 'ReplaceFullPath') action.regexRewrite = { pattern: { regex: '^/.*$' }, substitution: rewrite.path.replaceFullPath! };
          if (rewrite?.path?.type === 'ReplacePrefixMatch') Object.assign(action, prefixRewrite(m.path.value, rewrite.path.replacePrefixMatch!, pm));
          r.route = action;
        }
        return withMods(r, mods);
      });
      out.push({
        routes,
        pathRank: m.path.type === 'Exact' ? 0 : m.path.type === 'PathPrefix' ? 1 : 2,
        pathLength: m.path.type === 'PathPrefix' ? stripSlash(m.path.value).length : m.path.value.length,
        method: m.method !== undefined,
        headers: m.headers?.length ?? 0,
        query: m.queryParams?.length ?? 0,
        owner,
        rule: ri,
        match: mi,
      });
    });
  });
  return out;
}

/**
 * The Envoy routes of one GRPCRoute: a method match is a path (`/service/method` exact, `/service/`
 * prefix, or a regex), every route also requires a gRPC content-type (`grpc {}`).
 */
export function grpcRouteRoutes(res: ConfigResource, opts: GatewayApiRouteOptions): RankedRoute[] {
  const spec = res.spec as GRPCRouteSpec;
  const owner = `${res.metadata.namespace}/${res.metadata.name}`;
  const out: RankedRoute[] = [];
  (spec.rules ?? [{}]).forEach((rule: GRPCRule, ri) => {
    const at = `spec.rules[${ri}]`;
    const filters = (rule.filters ?? []) as HTTPFilter[];
    filters.forEach((f, fi) => {
      if (f.type === 'ExtensionRef') opts.warn(res, `${at}.filters[${fi}]`, `ExtensionRef filter is not supported (ignored)`);
    });
    const mods = headerMods(filters);
    const base = forward(res, at, rule as never, opts);
    const matches = rule.matches?.length ? rule.matches : [{}];
    matches.forEach((m: NonNullable<GRPCRule['matches']>[number], mi) => {
      const headers = headerMatchers(m.headers);
      let pm: RouteMatchProto = { prefix: '/' };
      let rank = 1;
      let length = 1;
      const meth = m.method;
      if (meth) {
        const svc = meth.service;
        const name = meth.method;
        if (meth.type === 'RegularExpression') {
          pm = { safeRegex: { regex: `/${svc ?? '[^/]+'}/${name ?? '[^/]+'}` } };
          rank = 2;
        } else if (svc && name) {
          pm = { path: `/${svc}/${name}` };
          rank = 0;
        } else if (svc) pm = { prefix: `/${svc}/` };
        else {
          pm = { safeRegex: { regex: `/[^/]+/${escapeRegex(name!)}` } };
          rank = 2;
        }
        length = (svc?.length ?? 0) + (name?.length ?? 0);
      }
      const r: RouteProto = { name: `${owner}.${rule.name ?? ri}.${mi}`, match: { ...pm, grpc: {}, ...(headers.length ? { headers } : {}) } };
      if (base) r.route = { ...base };
      else r.directResponse = { status: 500 };
      out.push({ routes: [withMods(r, mods)], pathRank: rank, pathLength: length, method: false, headers: headers.length, query: 0, owner, rule: ri, match: mi });
    });
  });
  return out;
}
