/**
 * VirtualService HTTP routes -> Envoy Routes, in the order written (core/route/README.md): matches,
 * route destinations with subsets and weights, redirect, directResponse, rewrite, headers, mirror(s)
 * with their percentages, fault, retries (Istio's default policy when unset), timeout, corsPolicy.
 * Spec: https://istio.io/latest/docs/reference/config/networking/virtual-service/ (Istio 1.29).
 * What Envoy routes cannot say here (sourceLabels, delegate, exponential delay, http2Error, ...) is a
 * warning naming the field, never a silent drop.
 */
import type { ConfigResource } from '../../config/snapshot.ts';
import type { VirtualServiceHTTPRoute, VirtualServiceSpec } from '../../config/schema/istio-virtual-service.ts';
import { envoy } from '../pb.ts';
import type { CorsPolicyProto, HeaderMatcherProto, HTTPFaultProto, RouteActionProto, RouteMatchProto, RouteProto, StringMatcherProto } from '../pb.ts';
import type { Backends } from './backends.ts';
import { FILTER, INVALID_BACKEND, L7_TYPE_URL } from './names.ts';
import { addHeader, duration, optionalFilterConfig, percentOf, setHeader } from './proto-util.ts';
import type { Warn } from './routes-gateway-api.ts';

type StringMatch = { exact?: string; prefix?: string; regex?: string };
type HTTPMatch = NonNullable<VirtualServiceHTTPRoute['match']>[number];

export interface VirtualServiceRouteOptions {
  backends: Backends;
  warn: Warn;
  /** The port the routes serve (a match with another `port` is left out). */
  port: number;
  /** `mesh`, or the Istio Gateway (`ns/name`) being translated: a match's `gateways` must name it. */
  gateway: string;
  /** Default destination port (the service port for mesh routes). */
  defaultPort?: number;
  /** Set when a route uses the fault or CORS filter (the listener then lists it). */
  uses: { fault: boolean; cors: boolean };
}

const Code = envoy.config.route.v3.RedirectAction.RedirectResponseCode;
const REDIRECT_CODES: Record<number, number> = { 301: Code.MOVED_PERMANENTLY, 302: Code.FOUND, 303: Code.SEE_OTHER, 307: Code.TEMPORARY_REDIRECT, 308: Code.PERMANENT_REDIRECT };

/** gRPC status names (Istio's fault.abort.grpcStatus) -> codes. */
const GRPC_CODES: Record<string, number> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/** Istio's default retry policy (when `retries` is unset): 2 attempts on connection failures and 503. */
export const ISTIO_DEFAULT_RETRY = {
  retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  numRetries: { value: 2 },
  retriableStatusCodes: [503],
};

function stringMatcher(m: StringMatch, ignoreCase = false): StringMatcherProto {
  const base: StringMatcherProto = m.exact !== undefined ? { exact: m.exact } : m.prefix !== undefined ? { prefix: m.prefix } : { safeRegex: { regex: m.regex ?? '.*' } };
  return ignoreCase ? { ...base, ignoreCase: true } : base;
}

function headerMatcher(name: string, m: StringMatch, invert = false): HeaderMatcherProto {
  const h: HeaderMatcherProto = { name: name.toLowerCase() };
  // An empty exact/prefix/regex (`{}`) or `regex: "*"`-style presence: Istio reads `{}` as "present".
  if (m.exact === undefined && m.prefix === undefined && m.regex === undefined) h.presentMatch = true;
  else h.stringMatch = stringMatcher(m);
  if (invert) h.invertMatch = true;
  return h;
}

function routeMatch(m: HTTPMatch | undefined, res: ConfigResource, at: string, warn: Warn): RouteMatchProto {
  const match: RouteMatchProto = {};
  const uri = m?.uri as StringMatch | undefined;
  if (!uri) match.prefix = '/';
  else if (uri.exact !== undefined) match.path = uri.exact;
  else if (uri.prefix !== undefined) match.prefix = uri.prefix;
  else match.safeRegex = { regex: uri.regex ?? '.*' };
  if (m?.ignoreUriCase) match.caseSensitive = { value: false };
  const headers: HeaderMatcherProto[] = [];
  if (m?.method) headers.push(headerMatcher(':method', m.method as StringMatch));
  if (m?.scheme) headers.push(headerMatcher(':scheme', m.scheme as StringMatch));
  if (m?.authority) headers.push(headerMatcher(':authority', m.authority as StringMatch));
  for (const [name, v] of Object.entries(m?.headers ?? {})) headers.push(headerMatcher(name, v as StringMatch));
  for (const [name, v] of Object.entries(m?.withoutHeaders ?? {})) headers.push(headerMatcher(name, v as StringMatch, true));
  if (headers.length) match.headers = headers;
  const query = Object.entries(m?.queryParams ?? {}).map(([name, v]) => {
    const sm = v as StringMatch;
    return sm.exact === undefined && sm.prefix === undefined && sm.regex === undefined ? { name, presentMatch: true } : { name, stringMatch: stringMatcher(sm) };
  });
  if (query.length) match.queryParameters = query;
  if (m?.sourceLabels) warn(res, `${at}.sourceLabels`, 'sourceLabels cannot be matched by a waypoint or gateway (ignored)');
  if (m?.sourceNamespace) warn(res, `${at}.sourceNamespace`, 'sourceNamespace cannot be matched by a waypoint or gateway (ignored)');
  return match;
}

/** Whether a match applies to this port and gateway (`port` and `gateways` of the match). */
function matchApplies(m: HTTPMatch, opts: VirtualServiceRouteOptions, vsNs: string): boolean {
  if (m.port !== undefined && m.port !== opts.port) return false;
  if (m.gateways?.length) {
    return m.gateways.some((g) => (g === 'mesh' ? opts.gateway === 'mesh' : (g.includes('/') ? g : `${vsNs}/${g}`) === opts.gateway));
  }
  return true;
}

function corsPolicy(c: NonNullable<VirtualServiceHTTPRoute['corsPolicy']>): CorsPolicyProto {
  const origins = [...(c.allowOrigins ?? []).map((o) => stringMatcher(o as StringMatch)), ...(c.allowOrigin ?? []).map((o) => (o === '*' ? { safeRegex: { regex: '.*' } } : { exact: o }))];
  const p: CorsPolicyProto = { allowOriginStringMatch: origins };
  if (c.allowMethods?.length) p.allowMethods = c.allowMethods.join(',');
  if (c.allowHeaders?.length) p.allowHeaders = c.allowHeaders.join(',');
  if (c.exposeHeaders?.length) p.exposeHeaders = c.exposeHeaders.join(',');
  if (c.maxAge) {
    const d = duration(c.maxAge);
    if (d) p.maxAge = String(d.seconds);
  }
  if (c.allowCredentials !== undefined) p.allowCredentials = { value: c.allowCredentials };
  if (c.unmatchedPreflights === 'FORWARD') p.forwardNotMatchingPreflights = { value: true };
  if (c.unmatchedPreflights === 'IGNORE') p.forwardNotMatchingPreflights = { value: false };
  return p;
}

function fault(f: NonNullable<VirtualServiceHTTPRoute['fault']>, res: ConfigResource, at: string, warn: Warn): HTTPFaultProto | undefined {
  const out: HTTPFaultProto = {};
  if (f.delay) {
    const pct = f.delay.percentage?.value ?? f.delay.percent;
    if (f.delay.exponentialDelay) warn(res, `${at}.fault.delay.exponentialDelay`, 'exponentialDelay is not supported (ignored)');
    const fixed = duration(f.delay.fixedDelay);
    if (fixed) out.delay = { fixedDelay: fixed, percentage: percentOf(pct ?? 100) };
  }
  if (f.abort) {
    const pct = percentOf(f.abort.percentage?.value ?? 100);
    if (f.abort.httpStatus !== undefined) out.abort = { httpStatus: f.abort.httpStatus, percentage: pct };
    else if (f.abort.grpcStatus !== undefined) {
      const code = GRPC_CODES[f.abort.grpcStatus.toUpperCase()] ?? (/^\d+$/.test(f.abort.grpcStatus) ? Number(f.abort.grpcStatus) : undefined);
      if (code === undefined) warn(res, `${at}.fault.abort.grpcStatus`, `"${f.abort.grpcStatus}" is not a gRPC status name (ignored)`);
      else out.abort = { grpcStatus: code, percentage: pct };
    } else warn(res, `${at}.fault.abort.http2Error`, 'http2Error is not supported (ignored)');
  }
  return out.delay || out.abort ? out : undefined;
}

/** The Envoy routes of one VirtualService for one port and gateway (or the mesh), in order. */
export function virtualServiceRoutes(res: ConfigResource, opts: VirtualServiceRouteOptions): RouteProto[] {
  const spec = res.spec as VirtualServiceSpec;
  const ns = res.metadata.namespace;
  const { warn } = opts;
  const out: RouteProto[] = [];
  (spec.http ?? []).forEach((h, i) => {
    const at = `spec.http[${i}]`;
    const matches = h.match?.length ? h.match.map((m, j) => [m, j] as const).filter(([m]) => matchApplies(m, opts, ns)) : [[undefined, -1] as const];
    if (matches.length === 0) return;
    if (h.delegate) {
      warn(res, `${at}.delegate`, 'delegate VirtualServices are not supported (route left out)');
      return;
    }
    const base: RouteProto = {};
    // Action.
    if (h.redirect) {
      const r = h.redirect;
      base.redirect = { responseCode: REDIRECT_CODES[r.redirectCode ?? 301] ?? Code.MOVED_PERMANENTLY };
      if (r.redirectCode !== undefined && !REDIRECT_CODES[r.redirectCode]) warn(res, `${at}.redirect.redirectCode`, `redirect code ${r.redirectCode} is not supported (301, 302, 303, 307, 308 are): 301 used`);
      if (r.uri !== undefined) base.redirect.pathRedirect = r.uri;
      if (r.authority !== undefined) base.redirect.hostRedirect = r.authority;
      if (r.port !== undefined) base.redirect.portRedirect = r.port;
      if (r.scheme !== undefined) base.redirect.schemeRedirect = r.scheme;
      if (r.derivePort === 'FROM_PROTOCOL_DEFAULT' && r.scheme) base.redirect.portRedirect = r.scheme === 'https' ? 443 : 80;
      if (r.derivePort === 'FROM_REQUEST_PORT') warn(res, `${at}.redirect.derivePort`, 'FROM_REQUEST_PORT is not supported (the request port is kept only when authority is not rewritten)');
    } else if (h.directResponse) {
      const b = h.directResponse.body;
      base.directResponse = { status: h.directResponse.status, ...(b?.string !== undefined ? { body: { inlineString: b.string } } : b?.bytes !== undefined ? { body: { inlineBytes: Uint8Array.from(atob(b.bytes), (c) => c.charCodeAt(0)) } } : {}) };
    } else {
      const dests = h.route ?? [];
      const resolved = dests.map((d, j) => {
        const r = opts.backends.istio(ns, d.destination, opts.defaultPort);
        if (r.problem) warn(res, `${at}.route[${j}].destination`, `${r.problem}: its share of requests gets 500`);
        if (d.headers) warn(res, `${at}.route[${j}].headers`, 'per-destination headers are not supported (ignored); set headers on the route');
        return { name: r.cluster, weight: dests.length === 1 ? 100 : (d.weight ?? 0) };
      });
      const live = resolved.filter((e) => e.weight > 0);
      const all = live.length ? live : resolved.map((e) => ({ ...e, weight: 1 }));
      if (all.every((e) => e.name === INVALID_BACKEND)) base.directResponse = { status: 500 };
      else {
        const action: RouteActionProto = all.length === 1 ? { cluster: all[0]!.name } : { weightedClusters: { clusters: all.map((e) => ({ name: e.name, weight: { value: e.weight } })) } };
        if (h.timeout) {
          const t = duration(h.timeout);
          if (t) action.timeout = t;
        }
        if (h.retries) {
          const attempts = h.retries.attempts ?? 2;
          if (attempts > 0) {
            const tokens = (h.retries.retryOn ?? ISTIO_DEFAULT_RETRY.retryOn).split(',').map((s) => s.trim()).filter(Boolean);
            const codes = tokens.filter((t) => /^\d{3}$/.test(t)).map(Number);
            const on = tokens.filter((t) => !/^\d{3}$/.test(t));
            if (codes.length && !on.includes('retriable-status-codes')) on.push('retriable-status-codes');
            action.retryPolicy = { retryOn: on.join(','), numRetries: { value: attempts }, ...(codes.length ? { retriableStatusCodes: codes } : {}) };
            const per = duration(h.retries.perTryTimeout);
            if (per) action.retryPolicy.perTryTimeout = per;
            const backoff = duration(h.retries.backoff);
            if (backoff) action.retryPolicy.retryBackOff = { baseInterval: backoff };
          }
          if (h.retries.retryRemoteLocalities !== undefined) warn(res, `${at}.retries.retryRemoteLocalities`, 'retryRemoteLocalities is not supported (ignored)');
        } else action.retryPolicy = { ...ISTIO_DEFAULT_RETRY };
        if (h.rewrite?.uri !== undefined) action.prefixRewrite = h.rewrite.uri;
        if (h.rewrite?.uriRegexRewrite) action.regexRewrite = { pattern: { regex: h.rewrite.uriRegexRewrite.match }, substitution: h.rewrite.uriRegexRewrite.rewrite };
        if (h.rewrite?.authority !== undefined) action.hostRewriteLiteral = h.rewrite.authority;
        const legacyPct = h.mirrorPercentage?.value ?? h.mirrorPercent ?? h.mirror_percent;
        const mirrors = [...(h.mirror ? [{ destination: h.mirror, pct: legacyPct }] : []), ...(h.mirrors ?? []).map((m) => ({ destination: m.destination, pct: m.percentage?.value }))];
        if (mirrors.length) {
          action.requestMirrorPolicies = mirrors.map((m, j) => {
            const r = opts.backends.istio(ns, m.destination, opts.defaultPort);
            if (r.problem) warn(res, h.mirror ? `${at}.mirror` : `${at}.mirrors[${j}].destination`, `${r.problem}: not mirrored`);
            return { cluster: r.cluster, ...(m.pct !== undefined ? { runtimeFraction: { defaultValue: percentOf(m.pct) } } : {}) };
          });
        }
        base.route = action;
      }
    }
    if (h.rewrite && !base.route && !h.redirect) warn(res, `${at}.rewrite`, 'rewrite applies only to routes with destinations (ignored)');
    // Headers.
    const hdr = h.headers;
    const reqAdd = [...Object.entries(hdr?.request?.set ?? {}).map(([k, v]) => setHeader(k, v)), ...Object.entries(hdr?.request?.add ?? {}).map(([k, v]) => addHeader(k, v))];
    const resAdd = [...Object.entries(hdr?.response?.set ?? {}).map(([k, v]) => setHeader(k, v)), ...Object.entries(hdr?.response?.add ?? {}).map(([k, v]) => addHeader(k, v))];
    if (reqAdd.length) base.requestHeadersToAdd = reqAdd;
    if (hdr?.request?.remove?.length) base.requestHeadersToRemove = [...hdr.request.remove];
    if (resAdd.length) base.responseHeadersToAdd = resAdd;
    if (hdr?.response?.remove?.length) base.responseHeadersToRemove = [...hdr.response.remove];
    // Filters.
    const perFilter: Record<string, ReturnType<typeof optionalFilterConfig>> = {};
    if (h.fault) {
      const f = fault(h.fault, res, at, warn);
      if (f) {
        perFilter[FILTER.fault] = optionalFilterConfig(L7_TYPE_URL.fault, envoy.extensions.filters.http.fault.v3.HTTPFault.encode(f).finish());
        opts.uses.fault = true;
      }
    }
    if (h.corsPolicy) {
      perFilter[FILTER.cors] = optionalFilterConfig(L7_TYPE_URL.corsPolicy, envoy.extensions.filters.http.cors.v3.CorsPolicy.encode(corsPolicy(h.corsPolicy)).finish());
      opts.uses.cors = true;
    }
    if (Object.keys(perFilter).length) base.typedPerFilterConfig = perFilter;
    for (const [m, j] of matches) {
      const name = `${ns}/${res.metadata.name}.${h.name ?? i}${m?.name ? `.${m.name}` : j >= 0 ? `.${j}` : ''}`;
      out.push({ name, match: routeMatch(m, res, j >= 0 ? `${at}.match[${j}]` : at, warn), ...base });
    }
  });
  if (spec.tls?.length) warn(res, 'spec.tls', 'tls routes are not supported by Weft L7 proxies (ignored)');
  if (spec.tcp?.length) warn(res, 'spec.tcp', 'tcp routes are not supported by Weft L7 proxies (ignored)');
  return out;
}
