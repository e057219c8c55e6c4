/**
 * The L7 proxy's request logic: the engine's L7Handler backed by core/route. One RouteHandler per
 * route configuration name (a listener's filter chain names one). Per request: the route table
 * picks the route (404 NR when none), then, in the HCM filter order of core/route/README.md, the
 * route's fault (delay, abort) and CORS (preflight answer), then its action: a direct response, a
 * redirect, or a forward to a weighted cluster choice -> the cluster's balancer (with the route's
 * hash policy) -> that endpoint's connection pool. Upstream outcomes feed outlier detection and
 * retries (route retry policy: retry_on, num_retries, per_try_timeout, retriable status codes);
 * the end of each exchange is one record in Istio's request metrics and, when enabled, one JSON
 * access log line.
 *
 * Nothing here interprets config: the tables and clusters are compiled per config version and
 * read through `routing()` at the start of each request, so a push never changes a request in
 * flight.
 */
import { applyHeaderOps, HeaderOpKind, Preflight } from '../../../core/route/index.ts';
import { normalizePath } from '../../../core/route/path-normalize.ts';
import type { ClusterChoice, CompiledRoute, ForwardAction, HeaderOps, MutableHeaders, RouteRequest, RouteTable, UpstreamCluster, UpstreamEndpoint } from '../../../core/route/index.ts';
import type { HttpMetrics } from '../../../core/telemetry/index.ts';
import type { DownstreamPeer, ExchangeSummary, ForwardOptions, HeadMutation, L7Exchange, L7Handler, RequestHeadView, UpstreamFailure, UpstreamOutcome } from '../l7/index.ts';
import { MirrorRequest, mirroredFields, shadowAuthority } from './mirror.ts';
import type { PoolSource } from './upstreams.ts';
import type { L7AuthzRequest } from '../../../core/policy/l7-request.ts';
import type { L7AuthzRunner } from './filters/index.ts';
import { defaultTracing, type RequestTrace, type Tracing } from './tracing.ts';
import type { PluginSet } from '../../../core/plugin/contract.ts';
import { flatHeaders, PluginExchangeView, PluginRun } from './plugin-filters.ts';
import { ActiveRequests, pickEndpoint } from './plugin-picker.ts';
import { PLAIN_FORWARD, PLUGIN_BODY_LIMIT, pluginChoice, routeNamed } from '../../../core/route/plugin-routing.ts';
import { accessLogLine, requestLogFields } from './access-log.ts';
import { grpcOf, RequestSeriesIndex } from './request-series.ts';

/** What a request reads of the current config. */
export interface Routing {
  routes(name: string): RouteTable | undefined;
  cluster(name: string): UpstreamCluster | undefined;
  /** The chain's authorization filters (jwt_authn, ext_authz, RBAC), when it has any (filters/). */
  authz?(routeConfigName: string): L7AuthzRunner | undefined;
}

export interface RouteHandlerOptions {
  routeConfigName: string;
  /** The listener's port (RBAC destination_port). */
  port?: number;
  routing: () => Routing;
  /** Upstream connection pools (UpstreamPools; a waypoint's are per downstream client). */
  pools: PoolSource;
  metrics: HttpMetrics;
  /**
   * This proxy as the metrics' reporter and source (a gateway reports as the client side). A
   * waypoint reports the request's peer as the source instead: `peerPrincipal` and the workload and
   * namespace the waypoint put on the DownstreamPeer (from the HBONE baggage).
   */
  self: { reporter: 'gateway' | 'waypoint'; workload: string; namespace: string; principal: string };
  accessLog?: (line: string) => void;
  /** traceparent propagation and span export (tracing.ts); default: propagation only. */
  tracing?: Tracing;
  random?: () => number;
  now?: () => number;
  /**
   * The plugins in force (PluginRuntime.plugins(), plugin-filters.ts), read once per request; absent
   * or without filters for this port and without an endpoint picker: the request costs one check.
   */
  plugins?: () => PluginSet | undefined;
  /** The most request body read for the plugins' request-body phase (default 1 MiB; more: 413). */
  maxPluginBodyBytes?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
}

/** RouteRequest over the engine's head view: repeated fields joined with `,`, as Envoy matches them. */
class RouteRequestView implements RouteRequest {
  /** The path after normalization (Envoy's normalize_path), when it differs from the received one. */
  normalized: string | undefined;
  constructor(readonly head: RequestHeadView) {
    this.normalized = normalizePath(head.target);
  }
  get method(): string {
    return this.head.method;
  }
  get scheme(): string {
    return this.head.scheme;
  }
  get authority(): string {
    return this.head.authority;
  }
  get target(): string {
    return this.normalized ?? this.head.target;
  }
  get sourceIp(): string {
    return this.head.remoteAddress;
  }
  header(name: string): string | undefined {
    const f = this.head.headers;
    let out: string | undefined;
    for (let i = 0; i < f.length; i += 2) if (f[i] === name) out = out === undefined ? f[i + 1] : `${out},${f[i + 1]}`;
    return out;
  }
}

/** Records header ops as the engine's set/add/remove lists; presence is read from the request. */
class MutationRecorder implements MutableHeaders {
  readonly sets: string[] = [];
  readonly adds: string[] = [];
  readonly removes: string[] = [];
  constructor(private readonly head?: RequestHeadView) {}
  has(name: string): boolean {
    for (let i = 0; i < this.sets.length; i += 2) if (this.sets[i] === name) return true;
    for (let i = 0; i < this.adds.length; i += 2) if (this.adds[i] === name) return true;
    if (this.removes.includes(name)) return false;
    return this.head?.header(name) !== undefined;
  }
  set(name: string, value: string): void {
    this.sets.push(name, value);
  }
  add(name: string, value: string): void {
    this.adds.push(name, value);
  }
  remove(name: string): void {
    this.removes.push(name);
  }
  mutation(): Pick<HeadMutation, 'set' | 'add' | 'remove'> {
    return { set: this.sets, add: this.adds, remove: this.removes };
  }
}

/** Ops whose result does not depend on the headers present: compiled once into a static mutation. */
function isStatic(ops: HeaderOps): boolean {
  for (const op of ops) if (op.kind === HeaderOpKind.AddIfAbsent || op.kind === HeaderOpKind.OverwriteIfExists) return false;
  return true;
}

function staticMutation(ops: HeaderOps): Pick<HeadMutation, 'set' | 'add' | 'remove'> {
  const r = new MutationRecorder();
  applyHeaderOps(ops, r);
  return r.mutation();
}

interface ChoiceMutations {
  request: Pick<HeadMutation, 'set' | 'add' | 'remove'> | undefined;
  response: Pick<HeadMutation, 'set' | 'add' | 'remove'>;
}

/** Per-request state (ex.state). */
class Pending {
  attempts = 0;
  flag = '-';
  cluster: UpstreamCluster | undefined;
  endpoint: UpstreamEndpoint | undefined;
  options: ForwardOptions | undefined;
  hash: number | undefined;
  /** Set when an access log is kept: the head is not valid any more when the exchange ends. */
  log: Record<string, unknown> | undefined;
  /** Set when the chain has authorization filters: their facts and the headers they add upstream. */
  authz: L7AuthzRequest | undefined;
  routing: Routing | undefined;
  /** A waypoint's downstream (the metrics' source); read at the start, as the head is gone at the end. */
  source: DownstreamPeer | undefined;
  trace!: RequestTrace;
  /** Plugins of this request (plugin-filters.ts), when any apply: the snapshot it keeps to its end. */
  plugin: PluginRun | undefined;
  constructor(
    /** The request routing reads: the head, or after a filter changed it, the plugin view. */
    public req: RouteRequestView,
    readonly start: number,
    /** Matched at the start, or after the plugins' request phase when filters apply. */
    public route: CompiledRoute | undefined,
  ) {}
}

const RESET_KIND: Partial<Record<UpstreamFailure, 'connect-failure' | 'reset' | 'refused-stream'>> = {
  'connect-failure': 'connect-failure',
  'upstream-reset': 'reset',
  'protocol-error': 'reset',
  timeout: 'reset',
};

export class RouteHandler implements L7Handler {
  readonly #o: RouteHandlerOptions;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #tracing: Tracing;
  readonly #choiceMutations = new WeakMap<ClusterChoice, ChoiceMutations>();
  readonly #series: RequestSeriesIndex;
  /** Requests in flight per endpoint, for the endpoint picker's `active-requests` (plugin-picker.ts). */
  readonly #active = new ActiveRequests();

  constructor(o: RouteHandlerOptions) {
    this.#o = o;
    this.#random = o.random ?? Math.random;
    this.#now = o.now ?? Date.now;
    this.#tracing = o.tracing ?? defaultTracing();
    this.#series = new RequestSeriesIndex(o.metrics, o.self);
  }

  request(ex: L7Exchange): void | Promise<void> {
    const routing = this.#o.routing();
    // plugins: one snapshot for the whole exchange; with filters, the route is matched after them (#pluginRequest)
    const plugins = this.#o.plugins?.();
    let run: PluginRun | undefined;
    if (plugins !== undefined) {
      const filters = plugins.httpFiltersFor(this.#o.port ?? 0);
      if (filters.length !== 0 || plugins.endpointPicker !== undefined) run = new PluginRun(plugins, filters, new PluginExchangeView(ex.request));
    }
    const req = new RouteRequestView(ex.request);
    const route = run === undefined || run.filters.length === 0 ? routing.routes(this.#o.routeConfigName)?.match(req) : undefined;
    const st = new Pending(req, this.#now(), route);
    if (run !== undefined) {
      st.plugin = run;
      if (run.filters.length === 0) run.requestDone = true;
    }
    ex.state = st;
    st.trace = this.#tracing.begin(ex.request);
    const waypoint = this.#o.self.reporter === 'waypoint';
    if (waypoint) st.source = sourceOf(ex.request);
    if (this.#o.accessLog !== undefined) st.log = waypoint ? { reporter: 'waypoint', source_principal: st.source?.peerPrincipal ?? null, source_workload: st.source?.workload ?? 'unknown', ...requestLogFields(ex.request) } : requestLogFields(ex.request);
    // AuthorizationPolicy / RequestAuthentication run before any routing decision (filters/).
    const authz = routing.authz?.(this.#o.routeConfigName);
    if (authz !== undefined) {
      st.routing = routing;
      return authz.run(ex, st, req, this.#o.port ?? 0, this);
    }
    return this.#proceed(ex, st, routing);
  }

  /**
   * The filters' request-headers phase (after authorization, before the route lookup, as in Envoy's
   * HCM): `respond` answers; header and `:path` changes are seen by the route match; `route` names
   * the route (none of that name: 503, logged: the plugin's config and the routes disagree, it is
   * not the client's request that matched nothing); `cluster` forwards there with the matched
   * route's settings, if any.
   */
  #pluginRequest(ex: L7Exchange, st: Pending, run: PluginRun, routing: Routing): boolean | Promise<boolean> {
    const answer = run.requestHeaders();
    if (answer !== undefined) {
      ex.respond(answer.status, flatHeaders(answer), answer.body);
      return false;
    }
    if (run.wantsRequestBody && ex.request.hasBody && ex.readBody !== undefined) {
      return ex.readBody(this.#o.maxPluginBodyBytes ?? PLUGIN_BODY_LIMIT).then((body) => {
        if (body === undefined) {
          ex.respond(413, NO_HEADERS, 'request body too large for the plugins\n');
          return false;
        }
        const a = run.requestBody(body);
        if (a !== undefined) {
          ex.respond(a.status, flatHeaders(a), a.body);
          return false;
        }
        return this.#matchAfterPlugins(ex, st, run, routing);
      });
    }
    return this.#matchAfterPlugins(ex, st, run, routing);
  }

  /** The route for the request as the filters left it (or the one a filter named). */
  #matchAfterPlugins(ex: L7Exchange, st: Pending, run: PluginRun, routing: Routing): boolean {
    const view = run.view;
    if (view.mutated) st.req = new RouteRequestView(view.changedHead());
    const table = routing.routes(this.#o.routeConfigName);
    if (run.routeName !== undefined) {
      st.route = table === undefined ? undefined : routeNamed(table, run.routeName);
      if (st.route === undefined) {
        st.flag = 'NR';
        this.#o.log?.('warn', `plugin ${run.decidedBy}: no route named ${JSON.stringify(run.routeName)} in ${this.#o.routeConfigName}`);
        ex.respond(503, NO_HEADERS, `plugin ${run.decidedBy} chose the route ${run.routeName}, which does not exist\n`);
        return false;
      }
      return true;
    }
    st.route = table?.match(st.req);
    return true;
  }

  /** After the authorization filters allowed the request. */
  proceed(ex: L7Exchange): void | Promise<void> {
    const st = ex.state as Pending;
    return this.#proceed(ex, st, st.routing ?? this.#o.routing());
  }

  #proceed(ex: L7Exchange, st: Pending, routing: Routing): void | Promise<void> {
    const run = st.plugin;
    if (run !== undefined && !run.requestDone) {
      const go = this.#pluginRequest(ex, st, run, routing);
      if (go === false) return;
      if (go !== true) return go.then((ok) => (ok ? this.#proceed(ex, st, routing) : undefined));
    }
    const req = st.req;
    const route = st.route;
    if (route === undefined) {
      if (run?.cluster !== undefined) return this.#forward(ex, st, PLAIN_FORWARD, routing);
      st.flag = 'NR';
      return ex.respond(404, NO_HEADERS);
    }
    const fault = route.fault;
    if (fault !== undefined && fault.applies(req)) {
      const abort = fault.abort(req, this.#random);
      if (abort !== undefined) {
        st.flag = 'FI';
        if (abort.grpcStatus !== undefined && ex.request.grpc) return ex.respond(200, ['grpc-status', String(abort.grpcStatus), 'grpc-message', 'fault filter abort']);
        return ex.respond(abort.httpStatus || 503, NO_HEADERS, 'fault filter abort');
      }
      const delay = fault.delayMs(req, this.#random);
      if (delay > 0) {
        st.flag = 'DI';
        return new Promise<void>((resolve) => setTimeout(resolve, delay)).then(() => this.#route(ex, st, route, routing));
      }
    }
    return this.#route(ex, st, route, routing);
  }

  #route(ex: L7Exchange, st: Pending, route: CompiledRoute, routing: Routing): void {
    const req = st.req;
    const cors = route.cors;
    if (cors !== undefined) {
      const out = new MutationRecorder();
      if (cors.preflight(req, out, this.#random) === Preflight.Answer) return ex.respond(200, out.sets);
    }
    const action = route.action;
    if (st.plugin?.cluster !== undefined) return this.#forward(ex, st, action.kind === 'forward' ? action : PLAIN_FORWARD, routing);
    if (action.kind === 'direct') {
      const m = staticMutation(action.responseHeaders);
      return ex.respond(action.status, m.set ?? NO_HEADERS, typeof action.body === 'string' ? action.body : Buffer.from(action.body));
    }
    if (action.kind === 'redirect') {
      const m = staticMutation(action.responseHeaders);
      return ex.respond(action.status, ['location', action.location(req), ...(m.set ?? [])]);
    }
    this.#forward(ex, st, action, routing);
  }

  #forward(ex: L7Exchange, st: Pending, action: ForwardAction, routing: Routing): void {
    const req = st.req;
    const run = st.plugin;
    const choice = run?.cluster !== undefined ? pluginChoice(run.cluster) : action.pick(this.#random);
    if (choice.invalid) {
      st.flag = 'NC';
      return ex.respond(500, NO_HEADERS);
    }
    const cluster = routing.cluster(choice.name);
    if (cluster === undefined) {
      st.flag = 'NC';
      return ex.respond(503, NO_HEADERS, 'no cluster');
    }
    st.cluster = cluster;
    st.hash = action.hashPolicy?.hash(req);
    const picker = run?.set.endpointPicker;
    const ep = picker === undefined ? cluster.pick(st.hash) : pickEndpoint(picker, run!.pickerView(), cluster, st.hash, this.#active);
    if (ep === undefined) {
      st.flag = 'UH';
      return ex.respond(503, NO_HEADERS, 'no healthy upstream');
    }
    st.endpoint = ep;
    if (picker !== undefined) this.#active.inc((run!.countedEndpoint = ep.key));
    const muts = this.#mutationsFor(choice);
    // the request as the filters left it (the head itself when no plugin changed it)
    const head = st.req.head;
    const request = muts.request ?? this.#dynamicRequest(choice.requestHeaders, head);
    const xff = head.header('x-forwarded-for');
    const set = ['x-forwarded-proto', head.scheme, 'x-forwarded-for', xff === undefined ? head.remoteAddress : `${xff},${head.remoteAddress}`];
    if (request.set) for (const v of request.set) set.push(v);
    const az = st.authz;
    if (az?.upstreamSet) for (const v of az.upstreamSet) set.push(v);
    const retry = action.retry;
    const options: ForwardOptions = { set, response: muts.response };
    // CORS on a forwarded request from an allowed origin: allow-origin, -credentials, -expose-headers
    // on the response (Envoy's cors filter encodes after the router, so these win over route headers).
    const cors = st.route?.cors;
    if (cors !== undefined && req.header('origin') !== undefined) {
      const out = new MutationRecorder();
      cors.decorate(req, out);
      if (out.sets.length) options.response = { ...muts.response, set: [...(muts.response.set ?? []), ...out.sets] };
    }
    if (request.add?.length) options.add = request.add;
    if (request.remove?.length) options.remove = request.remove;
    if (az?.upstreamRemove) options.remove = [...(options.remove ?? []), ...az.upstreamRemove];
    // routing, authorization and the upstream all see the normalized path (`/a/../admin` is `/admin`)
    const target = action.rewrite(req.target) ?? req.normalized;
    if (target !== undefined) options.target = target;
    if (choice.hostRewrite !== undefined) options.authority = choice.hostRewrite;
    if (run !== undefined) {
      run.view.mergeInto(options);
      if (run.wantsResponse) options.responseHead = run;
    }
    const perTry = retry?.perTryTimeoutMs ?? 0;
    const timeout = perTry > 0 && (action.timeoutMs === 0 || perTry < action.timeoutMs) ? perTry : action.timeoutMs;
    if (timeout > 0) options.timeoutMs = timeout;
    if (retry !== undefined) options.holdStatus = (status: number) => st.attempts <= retry.numRetries && retry.shouldRetry(status);
    this.#tracing.inject(st.trace, set, options);
    st.options = options;
    st.attempts = 1;
    if (action.mirrors.length !== 0) this.#mirror(ex, action, options, routing, st.hash);
    ex.forward(this.#o.pools.get(cluster, ep, ex.request), options);
  }

  /** request_mirror_policies: a bodiless copy of the request as forwarded to each sampled mirror (mirror.ts). */
  #mirror(ex: L7Exchange, action: ForwardAction, options: ForwardOptions, routing: Routing, hash: number | undefined): void {
    const head = ex.request;
    if (head.hasBody || head.upgrade !== '') return;
    for (const m of action.mirrors) {
      if (!m.sample(this.#random)) continue;
      const cluster = routing.cluster(m.cluster);
      const ep = cluster?.pick(hash);
      if (cluster === undefined || ep === undefined) continue;
      const authority = shadowAuthority(options.authority ?? head.authority);
      const req = new MirrorRequest(head.method, options.target ?? head.target, authority, head.scheme, mirroredFields(head, options), head.grpc, action.timeoutMs, (o) => {
        const failed = o.failure !== 'none' && o.failure !== 'downstream-reset';
        cluster.outlier?.report(ep.key, failed ? 503 : o.status, this.#now());
      });
      this.#o.pools.get(cluster, ep, head).start(req);
    }
  }

  #mutationsFor(choice: ClusterChoice): ChoiceMutations {
    let m = this.#choiceMutations.get(choice);
    if (m === undefined) {
      m = { request: isStatic(choice.requestHeaders) ? staticMutation(choice.requestHeaders) : undefined, response: staticMutation(choice.responseHeaders) };
      this.#choiceMutations.set(choice, m);
    }
    return m;
  }

  #dynamicRequest(ops: HeaderOps, head: RequestHeadView): Pick<HeadMutation, 'set' | 'add' | 'remove'> {
    const r = new MutationRecorder(head);
    applyHeaderOps(ops, r);
    return r.mutation();
  }

  upstreamOutcome(ex: L7Exchange, outcome: UpstreamOutcome): boolean | void {
    const st = ex.state as Pending;
    const cluster = st.cluster;
    const ep = st.endpoint;
    if (cluster === undefined || ep === undefined) return;
    const failed = outcome.failure !== 'none' && outcome.failure !== 'downstream-reset';
    cluster.outlier?.report(ep.key, failed ? 503 : outcome.status, this.#now());
    if (outcome.committed) return;
    const route = st.route;
    const action = route?.action.kind === 'forward' ? route.action : undefined;
    const retry = action?.retry;
    if (retry === undefined || !outcome.replayable || st.attempts > retry.numRetries) {
      if (failed) st.flag = outcome.failure === 'timeout' ? 'UT' : outcome.failure === 'connect-failure' ? 'UF' : 'UR';
      return;
    }
    const reset = failed ? RESET_KIND[outcome.failure] : undefined;
    if (!retry.shouldRetry(outcome.status, reset)) return;
    const next = cluster.pick(st.hash);
    if (next === undefined) return;
    st.endpoint = next;
    st.attempts++;
    ex.forward(this.#o.pools.get(cluster, next, ex.request), st.options);
    return true;
  }

  end(ex: L7Exchange, s: ExchangeSummary): void {
    const st = ex.state as Pending | undefined;
    if (st === undefined) return;
    const counted = st.plugin?.countedEndpoint;
    if (counted !== undefined) this.#active.dec(counted);
    const durationMs = this.#now() - st.start;
    const flag = s.failure === 'downstream-reset' ? 'DC' : st.attempts > 1 && s.status >= 500 ? 'URX' : st.flag;
    this.#series.group(st.cluster, st.endpoint, st.source).record({ status: s.status, ...(ex.request.grpc ? { grpcStatus: grpcOf(s.status) } : {}), durationMs, requestBytes: s.requestBytes, responseBytes: s.responseBytes, flag });
    if (st.log !== undefined) {
      // the plugin that answered, replaced the response, or chose the route or cluster
      const by = st.plugin?.decidedBy;
      if (by !== undefined) st.log.plugin = by;
      this.#o.accessLog?.(accessLogLine(st.start, st.log, s, durationMs, flag, st.cluster?.name, st.endpoint?.key, st.route?.name));
    }
    if (st.trace.span !== undefined) this.#tracing.end(st.trace, s, flag, st.cluster?.name, st.endpoint?.key);
  }
}

const NO_HEADERS: readonly string[] = [];

/** The downstream as a waypoint sees it: the peer the waypoint handed the engine, else the head's principal alone. */
function sourceOf(head: RequestHeadView): DownstreamPeer | undefined {
  if (head.peer !== undefined) return head.peer;
  const principal = head.peerPrincipal;
  if (principal === undefined) return undefined;
  return { address: head.remoteAddress, port: head.remotePort, peerPrincipal: principal, namespace: /\/ns\/([^/]+)\//.exec(principal)?.[1] ?? '' };
}

