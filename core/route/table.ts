/**
 * compileRoutes: one RouteConfiguration (as decoded from the wire) -> a RouteTable, once per
 * config version. `match(request)` picks the virtual host by authority and returns the first route
 * whose match holds, in config order (the translator sorts; the compiler never reorders), or
 * undefined (404). What the engine does next is on the returned CompiledRoute: its action
 * (forward / redirect / direct), header ops, fault and CORS.
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { compileDirect, compileForward, compileRedirect } from './actions.ts';
import type { Action, OuterHeaders } from './actions.ts';
import type { Cors } from './cors.ts';
import type { Fault } from './fault.ts';
import { compileFilterConfigs, mergeFilterConfigs } from './filter-configs.ts';
import type { FilterConfigs } from './filter-configs.ts';
import { compileHeaderOps, joinOps } from './header-ops.ts';
import type { HeaderOps } from './header-ops.ts';
import { set } from './proto.ts';
import { compileRequestMatch, pathEnd } from './request-match.ts';
import type { RequestMatch } from './request-match.ts';
import type { RouteRequest } from './types.ts';
import { RouteCompileError } from './types.ts';
import { HostSelector } from './virtual-hosts.ts';

type RouteConfigurationProto = envoy.config.route.v3.RouteConfiguration.$Properties;
type RouteProto = envoy.config.route.v3.Route.$Properties;

export class CompiledRoute {
  constructor(
    readonly name: string,
    readonly virtualHost: string,
    readonly match: RequestMatch,
    readonly action: Action,
    /** Request header ops (route, virtual host, route configuration) for redirect and direct actions; a forward's are on its ClusterChoice. */
    readonly requestHeaders: HeaderOps,
    readonly responseHeaders: HeaderOps,
    readonly fault: Fault | undefined,
    readonly cors: Cors | undefined,
    /** Other filters' per-route configs (route over virtual host), by filter name; null: disabled here. */
    readonly filterConfigs: FilterConfigs['other'],
  ) {}
}

export interface VirtualHostTable {
  readonly name: string;
  readonly domains: readonly string[];
  readonly routes: readonly CompiledRoute[];
}

export interface CompileOptions {
  /** Draws for match runtime_fraction; Math.random when absent. */
  random?: () => number;
}

export class RouteTable {
  readonly #hosts: HostSelector<VirtualHostTable>;
  readonly #random: () => number;

  constructor(
    readonly name: string,
    readonly virtualHosts: readonly VirtualHostTable[],
    hosts: HostSelector<VirtualHostTable>,
    random: () => number,
  ) {
    this.#hosts = hosts;
    this.#random = random;
  }

  /** The virtual host for an authority, or undefined (Envoy answers 404). */
  virtualHost(authority: string): VirtualHostTable | undefined {
    return this.#hosts.select(authority);
  }

  /** The first matching route, or undefined (404). Allocates nothing for the usual request. */
  match(req: RouteRequest): CompiledRoute | undefined {
    const vh = this.#hosts.select(req.authority);
    if (vh === undefined) return undefined;
    const target = req.target;
    const end = pathEnd(target);
    const routes = vh.routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i]!;
      if (r.match.matches(req, target, end, this.#random)) return r;
    }
    return undefined;
  }
}

function compileRoute(r: RouteProto, vhName: string, outer: OuterHeaders, vhFilters: FilterConfigs, path: string): CompiledRoute {
  const match = compileRequestMatch(r.match, `${path}.match`);
  const req = compileHeaderOps(r.requestHeadersToAdd, r.requestHeadersToRemove, `${path}.request_headers_to_add`);
  const res = compileHeaderOps(r.responseHeadersToAdd, r.responseHeadersToRemove, `${path}.response_headers_to_add`);
  const routeHeaders = { request: joinOps(req), response: joinOps(res) };
  const requestHeaders = joinOps(req, outer.request);
  const responseHeaders = joinOps(res, outer.response);
  let action: Action;
  if (set(r.route)) action = compileForward(r.route, match, routeHeaders, outer, `${path}.route`);
  else if (set(r.redirect)) action = compileRedirect(r.redirect, match, responseHeaders, `${path}.redirect`);
  else if (set(r.directResponse)) action = compileDirect(r.directResponse, responseHeaders, `${path}.direct_response`);
  else throw new RouteCompileError(path, 'route needs route, redirect or direct_response');
  const filters = mergeFilterConfigs(compileFilterConfigs(r.typedPerFilterConfig, `${path}.typed_per_filter_config`), vhFilters);
  return new CompiledRoute(r.name ?? '', vhName, match, action, requestHeaders, responseHeaders, filters.fault, filters.cors, filters.other);
}

/** Compiles a RouteConfiguration; throws RouteCompileError (field path + reason) for a config to NACK. */
export function compileRoutes(rc: RouteConfigurationProto, opts: CompileOptions = {}): RouteTable {
  const hosts = new HostSelector<VirtualHostTable>();
  const cfgReq = compileHeaderOps(rc.requestHeadersToAdd, rc.requestHeadersToRemove, 'request_headers_to_add');
  const cfgRes = compileHeaderOps(rc.responseHeadersToAdd, rc.responseHeadersToRemove, 'response_headers_to_add');
  const tables = (rc.virtualHosts ?? []).map((vh, i) => {
    const path = `virtual_hosts[${i}]`;
    const name = vh.name ?? '';
    const outer: OuterHeaders = {
      request: joinOps(compileHeaderOps(vh.requestHeadersToAdd, vh.requestHeadersToRemove, `${path}.request_headers_to_add`), cfgReq),
      response: joinOps(compileHeaderOps(vh.responseHeadersToAdd, vh.responseHeadersToRemove, `${path}.response_headers_to_add`), cfgRes),
    };
    const vhFilters = compileFilterConfigs(vh.typedPerFilterConfig, `${path}.typed_per_filter_config`);
    const routes = (vh.routes ?? []).map((r, j) => compileRoute(r, name, outer, vhFilters, `${path}.routes[${j}]`));
    const table: VirtualHostTable = { name, domains: [...(vh.domains ?? [])], routes };
    if (table.domains.length === 0) throw new RouteCompileError(`${path}.domains`, 'a virtual host needs at least one domain');
    table.domains.forEach((d, k) => hosts.add(d, table, `${path}.domains[${k}]`));
    return table;
  });
  return new RouteTable(rc.name ?? '', tables, hosts.seal(), opts.random ?? Math.random);
}
