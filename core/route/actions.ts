/**
 * Route actions, compiled: forward (RouteAction), redirect (RedirectAction), direct_response.
 * Everything the engine asks per request is a method on a precompiled object: `pick(random)` for
 * the upstream cluster, `rewrite(target)` for the new path, `location(req)` for a redirect.
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { compileHashPolicy } from './hash-policy.ts';
import type { HashPolicy } from './hash-policy.ts';
import { compileHeaderOps, joinOps } from './header-ops.ts';
import type { HeaderOps } from './header-ops.ts';
import { durationMs, fraction, set, wrapped } from './proto.ts';
import { pathEnd } from './request-match.ts';
import type { RequestMatch } from './request-match.ts';
import { compileRetryPolicy } from './retry.ts';
import type { RetryPolicy } from './retry.ts';
import { compilePathRewrite } from './rewrite.ts';
import type { PathRewrite } from './rewrite.ts';
import type { RouteRequest } from './types.ts';
import { RouteCompileError } from './types.ts';

type RouteActionProto = envoy.config.route.v3.RouteAction.$Properties;
type RedirectProto = envoy.config.route.v3.RedirectAction.$Properties;

/** The weighted cluster entry name the translator writes for a backend that does not resolve. */
export const INVALID_BACKEND = 'weft.invalid-backend';

/** One upstream a request may go to, with what applies when it is chosen. */
export interface ClusterChoice {
  readonly name: string;
  /** `weft.invalid-backend`: answer 500 (Gateway API: its share of requests fails). */
  readonly invalid: boolean;
  /** Request header ops for this choice: entry, route, virtual host, route configuration levels. */
  readonly requestHeaders: HeaderOps;
  readonly responseHeaders: HeaderOps;
  /** host_rewrite_literal of the weighted entry, else of the route; undefined: keep the authority. */
  readonly hostRewrite: string | undefined;
}

export class Mirror {
  constructor(
    readonly cluster: string,
    /** runtime_fraction.default_value as a probability (1 when absent). */
    readonly fraction: number,
  ) {}

  /** Whether this request is mirrored (one draw of the caller's random). */
  sample(random: () => number): boolean {
    return this.fraction >= 1 || random() < this.fraction;
  }
}

export class ForwardAction {
  readonly kind = 'forward' as const;
  constructor(
    /** Choices in config order; one for a plain `cluster`. Weight-0 entries are dropped. */
    readonly clusters: readonly ClusterChoice[],
    /** Cumulative weights, parallel to clusters. */
    readonly cumulative: Float64Array,
    /** timeout in ms; 0 = none. */
    readonly timeoutMs: number,
    /** idle_timeout in ms; undefined: the listener's stream idle timeout. */
    readonly idleTimeoutMs: number | undefined,
    readonly retry: RetryPolicy | undefined,
    readonly pathRewrite: PathRewrite | undefined,
    readonly match: RequestMatch,
    readonly mirrors: readonly Mirror[],
    readonly hashPolicy: HashPolicy | undefined,
    /** Whether websocket upgrades are allowed on this route (upgrade_configs; the listener's when absent). */
    readonly upgrades: ReadonlyMap<string, boolean>,
  ) {}

  /** The upstream for this request: the single cluster, or a weighted draw with the caller's random. */
  pick(random: () => number): ClusterChoice {
    const cs = this.clusters;
    if (cs.length === 1) return cs[0]!;
    const cum = this.cumulative;
    const x = random() * cum[cum.length - 1]!;
    for (let i = 0; i < cs.length - 1; i++) if (x < cum[i]!) return cs[i]!;
    return cs[cs.length - 1]!;
  }

  /** The new request target after prefix_rewrite / regex_rewrite, or undefined when the route has none. */
  rewrite(target: string): string | undefined {
    const rw = this.pathRewrite;
    if (rw === undefined) return undefined;
    const end = pathEnd(target);
    return rw.apply(target, end, this.match.matchedLength(end));
  }
}

const REDIRECT_CODES = [301, 302, 303, 307, 308];

export class RedirectAction {
  readonly kind = 'redirect' as const;
  constructor(
    readonly status: number,
    readonly scheme: string,
    readonly host: string,
    /** `:port` or ''. */
    readonly port: string,
    readonly path: string,
    readonly pathHasQuery: boolean,
    readonly pathRewrite: PathRewrite | undefined,
    readonly stripQuery: boolean,
    readonly match: RequestMatch,
    readonly responseHeaders: HeaderOps,
  ) {}

  /** The Location header, built as Envoy's Utility::newUri builds it. */
  location(req: RouteRequest): string {
    let target = req.target;
    if (this.pathRewrite !== undefined) {
      const end = pathEnd(target);
      target = this.pathRewrite.apply(target, end, this.match.matchedLength(end));
    }
    const scheme = this.scheme || req.scheme;
    const host = this.host || requestHost(req, scheme, this.port);
    let path: string;
    if (this.path) {
      if (this.pathHasQuery) path = this.path;
      else {
        const q = target.indexOf('?');
        path = q < 0 ? this.path : this.path + target.slice(q);
      }
    } else path = target;
    if (path.charCodeAt(0) !== 47) path = `/${path}`;
    if (!this.pathHasQuery && this.stripQuery) {
      const q = path.indexOf('?');
      if (q >= 0) path = path.slice(0, q);
    }
    // a scheme's default port is left out (Gateway API: "SHOULD NOT add the port" for http:80, https:443)
    const port = (this.port === ':80' && scheme === 'http') || (this.port === ':443' && scheme === 'https') ? '' : this.port;
    return `${scheme}://${host}${port}${path}`;
  }
}

/**
 * The request's host for a redirect (Envoy's processRequestHost): its port is dropped when the
 * redirect sets a port, or when the scheme changes and the port is the old scheme's default
 * (http://h:80 -> https://h, not https://h:80).
 */
export function requestHost(req: RouteRequest, newScheme: string, newPort: string): string {
  const host = req.authority;
  if (host === '') return host;
  let colon: number;
  if (host.charCodeAt(0) === 91) {
    colon = host.lastIndexOf(']:');
    if (colon >= 0) colon += 1;
  } else colon = host.lastIndexOf(':');
  if (colon < 0) return host;
  const port = host.slice(colon);
  const proto = req.header('x-forwarded-proto') ?? req.scheme;
  let remove = newPort !== '';
  if (newScheme !== proto) remove ||= (proto === 'https' && port === ':443') || (proto === 'http' && port === ':80');
  return remove ? host.slice(0, colon) : host;
}

export class DirectResponseAction {
  readonly kind = 'direct' as const;
  constructor(
    readonly status: number,
    readonly body: string | Uint8Array,
    readonly responseHeaders: HeaderOps,
  ) {}
}

export type Action = ForwardAction | RedirectAction | DirectResponseAction;

/** Header ops of the levels above a route (virtual host, route configuration), most specific first. */
export interface OuterHeaders {
  readonly request: HeaderOps;
  readonly response: HeaderOps;
}

export function compileForward(a: RouteActionProto, match: RequestMatch, route: { request: HeaderOps; response: HeaderOps }, outer: OuterHeaders, path: string): ForwardAction {
  const routeHost = a.hostRewriteLiteral || undefined;
  if (a.autoHostRewrite?.value || a.hostRewriteHeader || a.hostRewritePathRegex) throw new RouteCompileError(path, 'only host_rewrite_literal is supported of the host rewrites');
  const choice = (name: string, req: HeaderOps, res: HeaderOps, host: string | undefined): ClusterChoice => ({
    name,
    invalid: name === INVALID_BACKEND,
    requestHeaders: joinOps(req, route.request, outer.request),
    responseHeaders: joinOps(res, route.response, outer.response),
    hostRewrite: host ?? routeHost,
  });
  const clusters: ClusterChoice[] = [];
  const weights: number[] = [];
  if (a.cluster) {
    clusters.push(choice(a.cluster, [], [], undefined));
    weights.push(1);
  } else if (set(a.weightedClusters)) {
    (a.weightedClusters.clusters ?? []).forEach((c, i) => {
      const p = `${path}.weighted_clusters.clusters[${i}]`;
      if (!c.name) throw new RouteCompileError(p, 'weighted cluster without a name (cluster_header is not supported)');
      const w = wrapped(c.weight, 0);
      if (w <= 0) return;
      const req = compileHeaderOps(c.requestHeadersToAdd, c.requestHeadersToRemove, `${p}.request_headers_to_add`);
      const res = compileHeaderOps(c.responseHeadersToAdd, c.responseHeadersToRemove, `${p}.response_headers_to_add`);
      clusters.push(choice(c.name, req, res, c.hostRewriteLiteral || undefined));
      weights.push(w);
    });
    if (clusters.length === 0) throw new RouteCompileError(`${path}.weighted_clusters`, 'no cluster with a weight above 0');
  } else {
    throw new RouteCompileError(path, 'route action needs cluster or weighted_clusters (cluster_header and cluster_specifier_plugin are not supported)');
  }
  const cumulative = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => (cumulative[i] = sum += w));
  const mirrors = (a.requestMirrorPolicies ?? []).map((m, i) => {
    if (!m.cluster) throw new RouteCompileError(`${path}.request_mirror_policies[${i}]`, 'mirror without a cluster');
    return new Mirror(m.cluster, set(m.runtimeFraction) ? fraction(m.runtimeFraction.defaultValue, 0) : 1);
  });
  const upgrades = new Map<string, boolean>();
  for (const u of a.upgradeConfigs ?? []) if (u.upgradeType) upgrades.set(u.upgradeType.toLowerCase(), wrapped(u.enabled, true));
  return new ForwardAction(
    clusters,
    cumulative,
    durationMs(a.timeout, 0),
    set(a.idleTimeout) ? durationMs(a.idleTimeout, 0) : undefined,
    compileRetryPolicy(a.retryPolicy),
    compilePathRewrite(a.prefixRewrite, a.regexRewrite, path),
    match,
    mirrors,
    compileHashPolicy(a.hashPolicy, `${path}.hash_policy`),
    upgrades,
  );
}

export function compileRedirect(r: RedirectProto, match: RequestMatch, responseHeaders: HeaderOps, path: string): RedirectAction {
  const status = REDIRECT_CODES[r.responseCode ?? 0];
  if (status === undefined) throw new RouteCompileError(`${path}.response_code`, `unknown redirect response code ${r.responseCode}`);
  const scheme = r.schemeRedirect ? r.schemeRedirect.toLowerCase() : r.httpsRedirect ? 'https' : '';
  const p = r.pathRedirect ?? '';
  if (p && (r.prefixRewrite || set(r.regexRewrite))) throw new RouteCompileError(path, 'path_redirect with prefix_rewrite or regex_rewrite');
  return new RedirectAction(
    status,
    scheme,
    r.hostRedirect ?? '',
    r.portRedirect ? `:${r.portRedirect}` : '',
    p,
    p.includes('?'),
    compilePathRewrite(r.prefixRewrite, r.regexRewrite, path),
    r.stripQuery === true,
    match,
    responseHeaders,
  );
}

export function compileDirect(d: envoy.config.route.v3.DirectResponseAction.$Properties, responseHeaders: HeaderOps, path: string): DirectResponseAction {
  const status = d.status ?? 0;
  if (status < 200 || status > 599) throw new RouteCompileError(`${path}.status`, `${status} is not in [200, 599]`);
  const b = d.body;
  let body: string | Uint8Array = '';
  if (set(b)) {
    if (set(b.inlineString)) body = b.inlineString;
    else if (set(b.inlineBytes)) body = b.inlineBytes;
    else if (set(b.filename) || set(b.environmentVariable)) throw new RouteCompileError(`${path}.body`, 'only inline_string and inline_bytes bodies are supported');
  }
  return new DirectResponseAction(status, body, responseHeaders);
}
