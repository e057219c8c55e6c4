/**
 * The edge gateway's request path, the Node gateway's (hosts/node/l7-proxy/route-handler.ts) over
 * web `Request`/`Response` and `fetch`, in the same HCM order:
 *   listener chain by host (edge-model.ts) -> authorization filters (RBAC: 403 `RBAC: access
 *   denied`) -> plugins' request phases (respond / route / cluster; header and `:path` changes are
 *   seen by routing) -> route table -> fault -> CORS -> direct response | redirect | forward:
 *   weighted cluster choice -> balancer -> fetch (upstream.ts) -> response header ops, CORS,
 *   plugins' response-headers phase -> the body streamed back.
 * Local replies as the Node gateway gives them: 404 (no route) with an empty body, 503 `no
 * healthy upstream`, 500 for an invalid backend, 503 `no cluster`.
 *
 * Config: `apply(resources)` compiles a version off to the side and swaps one reference; each
 * request reads it once at its start, so a change never alters a request in flight.
 */
import { L7AuthzRequest, remoteAddressOf } from '../../core/policy/l7-request.ts';
import type { PluginRuntime, PluginSet } from '../../core/plugin/contract.ts';
import { flatHeaders, PluginRun } from '../../core/plugin/plugin-run.ts';
import { applyHeaderOps, Preflight, type ForwardAction, type HeaderOps, type MutableHeaders } from '../../core/route/index.ts';
import { normalizePath } from '../../core/route/path-normalize.ts';
import { PLAIN_FORWARD, PLUGIN_BODY_LIMIT, pluginChoice, routeNamed } from '../../core/route/plugin-routing.ts';
import type { CompiledRoute } from '../../core/route/table.ts';
import { compileEdgeModel, type EdgeChain, type EdgeModel, type EdgeResources } from './edge-model.ts';
import { EdgeRequest, type EdgeExchangeView } from './edge-request.ts';
import { discardBody, fetchUpstream, HOP_BY_HOP, partsOf } from './upstream.ts';
import { authorizeWithJwt, hasJwt } from './jwt-authz.ts';

export type EdgeLog = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export interface EdgeGatewayOptions {
  /** Upstream fetch (default: the runtime's global fetch). */
  fetch?: typeof fetch;
  /** The plugin runtime (core's createPluginRuntime over the bundled plugins), when the deploy has plugins. */
  plugins?: PluginRuntime;
  log?: EdgeLog;
  random?: () => number;
  now?: () => number;
}

const TEXT = { 'content-type': 'text/plain' };

/** Response headers as a MutableHeaders (core's header ops write through it). */
class HeadersOps implements MutableHeaders {
  constructor(readonly h: Headers) {}
  has(name: string): boolean {
    return this.h.has(name);
  }
  set(name: string, value: string): void {
    this.h.set(name, value);
  }
  add(name: string, value: string): void {
    this.h.append(name, value);
  }
  remove(name: string): void {
    this.h.delete(name);
  }
}

function local(status: number, body?: string, headers?: HeadersInit): Response {
  if (body === undefined || body === '') return new Response(null, { status, ...(headers ? { headers } : {}) });
  const h = new Headers(headers);
  if (!h.has('content-type')) h.set('content-type', 'text/plain; charset=utf-8');
  return new Response(body, { status, headers: h });
}

function opsHeaders(ops: HeaderOps, into = new Headers()): Headers {
  if (ops.length) applyHeaderOps(ops, new HeadersOps(into));
  return into;
}

/** The raw path and query of an absolute request URL (`http://h/a?b` -> `/a?b`). */
function targetOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  return start < 0 ? '/' : url.slice(start);
}

export class EdgeGateway {
  #model: EdgeModel | undefined;
  readonly #fetch: typeof fetch;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #log: EdgeLog;
  readonly #plugins: PluginRuntime | undefined;

  constructor(o: EdgeGatewayOptions = {}) {
    this.#fetch = o.fetch ?? ((input, init) => fetch(input, init));
    this.#random = o.random ?? Math.random;
    this.#now = o.now ?? Date.now;
    this.#log = o.log ?? (() => {});
    this.#plugins = o.plugins;
  }

  get model(): EdgeModel | undefined {
    return this.#model;
  }

  /** Compiles a new version beside the serving one, loads its plugins, then swaps. */
  async apply(r: EdgeResources): Promise<EdgeModel> {
    const model = compileEdgeModel(r, this.#model);
    for (const w of model.warnings) this.#log('warn', w);
    if (this.#plugins !== undefined) await this.#plugins.update(r.plugins);
    else if (r.plugins.length) this.#log('warn', `${r.plugins.length} WasmPlugin(s) for this gateway, but this edge deploy bundles no plugin runtime; they are not run`);
    this.#model = model;
    this.#log('info', `config ${model.version}: ${model.listeners.length} listener(s), ${model.routes.size} route configuration(s), ${model.clusters.size} cluster(s)`);
    return model;
  }

  /** One request. `clientIp`: the downstream address as the runtime reports it ('' when unknown). */
  async handle(request: Request, clientIp: string): Promise<Response> {
    const model = this.#model;
    if (model === undefined) return local(503, 'no config yet: the edge host has not received its configuration');
    const url = request.url;
    const scheme = url.charCodeAt(4) === 115 /* https */ ? 'https' : 'http';
    const authority = request.headers.get('host') ?? new URL(url).host;
    const raw = targetOf(url);
    const req = new EdgeRequest(request, scheme, authority, normalizePath(raw) ?? raw, clientIp);
    const chain = model.chainFor(authority);
    if (chain === undefined) return local(404);
    // authorization filters first (Envoy's HCM order), then the plugins, then routing
    let denied = this.#authorize(chain, req, clientIp);
    if (denied instanceof Promise) denied = await denied;
    if (denied !== undefined) return denied;
    const set = this.#plugins?.plugins();
    let run: PluginRun<EdgeExchangeView> | undefined;
    if (set !== undefined) {
      const filters = set.httpFiltersFor(chain.listener.port);
      if (filters.length) run = new PluginRun(set, filters, req.view());
    }
    let route: CompiledRoute | undefined;
    // a GET or HEAD sends no body upstream (fetchUpstream), and reading `body` would make
    // @hono/node-server build a whole undici Request behind its light one (45 us a request)
    let body: BodyInit | null = request.method === 'GET' || request.method === 'HEAD' ? null : request.body;
    if (run !== undefined) {
      const answer = run.requestHeaders();
      if (answer !== undefined) return local(answer.status, answer.body, answerHeaders(flatHeaders(answer)));
      if (run.wantsRequestBody && body !== null) {
        const bytes = new Uint8Array(await request.arrayBuffer());
        if (bytes.length > PLUGIN_BODY_LIMIT) return local(413, 'request body too large for the plugins\n');
        body = bytes;
        const a = run.requestBody(bytes);
        if (a !== undefined) return local(a.status, a.body, answerHeaders(flatHeaders(a)));
      }
      // a changed :authority selects a virtual host of this chain's table, as in the Node gateway
      const table = chain.routes;
      if (run.routeName !== undefined) {
        route = table === undefined ? undefined : routeNamed(table, run.routeName);
        if (route === undefined) {
          this.#log('warn', `plugin ${run.decidedBy}: no route named ${JSON.stringify(run.routeName)} in ${chain.chain.hcm.routeConfigName}`);
          return local(503, `plugin ${run.decidedBy} chose the route ${run.routeName}, which does not exist\n`);
        }
      } else route = table?.match(req);
    } else route = chain.routes?.match(req);
    if (route === undefined) {
      if (run?.cluster !== undefined) return this.#forward(model, req, PLAIN_FORWARD, undefined, run, body);
      return local(404);
    }
    const fault = route.fault;
    if (fault !== undefined && fault.applies(req)) {
      const abort = fault.abort(req, this.#random);
      if (abort !== undefined) return local(abort.httpStatus || 503, 'fault filter abort');
      const delay = fault.delayMs(req, this.#random);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    }
    const cors = route.cors;
    if (cors !== undefined) {
      const out = new Headers();
      if (cors.preflight(req, new HeadersOps(out), this.#random) === Preflight.Answer) return new Response(null, { status: 200, headers: out });
    }
    const action = route.action;
    if (run?.cluster !== undefined) return this.#forward(model, req, action.kind === 'forward' ? action : PLAIN_FORWARD, route, run, body);
    if (action.kind === 'direct') {
      const h = opsHeaders(action.responseHeaders);
      return typeof action.body === 'string' ? local(action.status, action.body, h) : new Response(action.body.length ? (action.body as Uint8Array<ArrayBuffer>) : null, { status: action.status, headers: h });
    }
    if (action.kind === 'redirect') {
      const h = opsHeaders(action.responseHeaders);
      h.set('location', action.location(req));
      return new Response(null, { status: action.status, headers: h });
    }
    return this.#forward(model, req, action, route, run, body);
  }

  #authorize(chain: EdgeChain, req: EdgeRequest, clientIp: string): Response | undefined | Promise<Response | undefined> {
    if (chain.unsupported !== undefined) return local(403, 'RBAC: access denied', TEXT);
    const stack = chain.authz;
    if (stack === undefined) return undefined;
    const ctx = new L7AuthzRequest(req, clientIp, remoteAddressOf(req, clientIp, stack.useRemoteAddress), chain.listener.port, undefined, undefined);
    // jwt_authn (RequestAuthentication): WebCrypto is async, so such a chain's filters run there
    if (hasJwt(stack)) return authorizeWithJwt(stack, ctx, req);
    for (const s of stack.steps) if (s.kind === 'rbac' && s.rbac.check(ctx) !== null) return local(403, 'RBAC: access denied', TEXT);
    return undefined;
  }

  async #forward(model: EdgeModel, req: EdgeRequest, action: ForwardAction, route: CompiledRoute | undefined, run: PluginRun<EdgeExchangeView> | undefined, body: BodyInit | null): Promise<Response> {
    const choice = run?.cluster !== undefined ? pluginChoice(run.cluster) : action.pick(this.#random);
    if (choice.invalid) return local(500);
    const cluster = model.clusters.get(choice.name);
    if (cluster === undefined) return local(503, 'no cluster');
    const headers = req.upstreamHeaders();
    for (const h of HOP_BY_HOP) headers.delete(h);
    headers.delete('host');
    // the route's request header ops apply after the filters' changes (Envoy's router runs last)
    if (choice.requestHeaders.length) applyHeaderOps(choice.requestHeaders, new HeadersOps(headers));
    headers.set('x-forwarded-proto', req.scheme);
    if (req.sourceIp !== '') {
      const xff = req.header('x-forwarded-for');
      headers.set('x-forwarded-for', xff === undefined ? req.sourceIp : `${xff},${req.sourceIp}`);
    }
    headers.set('host', choice.hostRewrite ?? req.authority);
    const target = action.rewrite(req.target) ?? req.target;
    const retry = action.retry;
    const perTry = retry?.perTryTimeoutMs ?? 0;
    const timeoutMs = perTry > 0 && (action.timeoutMs === 0 || perTry < action.timeoutMs) ? perTry : action.timeoutMs;
    const method = req.method;
    const up = await fetchUpstream(this.#fetch, { cluster, method, target, headers, body: method === 'GET' || method === 'HEAD' ? null : body, timeoutMs, retry, hash: action.hashPolicy?.hash(req) }, this.#now);
    if (!up.ok) return local(up.status, up.body);
    const res = up.response;
    // the upstream's own copy of the headers when it gave one (node-fetch.ts), else a copy to change
    const parts = partsOf(res);
    const out = parts?.headers ?? new Headers(res.headers);
    const resBody = parts === undefined ? res.body : parts.body;
    for (const h of HOP_BY_HOP) out.delete(h);
    if (choice.responseHeaders.length) applyHeaderOps(choice.responseHeaders, new HeadersOps(out));
    const cors = route?.cors;
    if (cors !== undefined && req.header('origin') !== undefined) cors.decorate(req, new HeadersOps(out));
    if (run?.wantsResponse) {
      const fields: string[] = [];
      out.forEach((v, k) => fields.push(k, v));
      const instead = run.onResponseHead(res.status, fields);
      if (instead !== undefined) {
        await discardBody(res);
        return local(instead.status, instead.body, answerHeaders(instead.headers));
      }
      const changed = new Headers();
      for (let i = 0; i < fields.length; i += 2) changed.append(fields[i]!, fields[i + 1]!);
      return new Response(resBody, { status: res.status, headers: changed });
    }
    return new Response(resBody, { status: res.status, headers: out });
  }

  /** The plugins in force (for status). */
  pluginSet(): PluginSet | undefined {
    return this.#plugins?.plugins();
  }

  status(): Record<string, unknown> {
    const m = this.#model;
    return {
      version: m?.version ?? null,
      listeners: m?.listeners.map((l) => ({ name: l.compiled.name, port: l.port, routes: l.compiled.chains.map((c) => c.hcm.routeConfigName) })) ?? [],
      clusters: m ? [...m.clusters.values()].map((c) => ({ name: c.name, endpoints: c.endpoints.map((e) => e.key) })) : [],
      warnings: m?.warnings ?? [],
      plugins: this.#plugins?.status() ?? [],
    };
  }
}

function answerHeaders(flat: readonly string[]): Headers {
  const h = new Headers();
  for (let i = 0; i < flat.length; i += 2) h.append(flat[i]!, flat[i + 1]!);
  return h;
}
