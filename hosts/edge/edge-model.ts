/**
 * The edge host's compiled config: the Envoy resources of one config version (listeners, route
 * configurations, clusters with their endpoints, authorization filters) compiled once by core, as
 * the Node gateway compiles them (hosts/node/l7-proxy/l7-proxy.ts), and read by every request
 * through one reference that the next version replaces whole (`EdgeGateway.apply`).
 *
 * Listener choice (an edge runtime has one public port, so a Gateway's listener ports cannot pick
 * the listener as the Node gateway's bound sockets do): the first listener, by port, whose route
 * configuration has a virtual host naming the request's host (an exact or wildcard domain, not the
 * catch-all `*`); when none does, the first plain HTTP listener (lowest port), else the first
 * listener. A TLS listener's chain is chosen by the host as its SNI (the platform terminated TLS).
 * The choice per host is cached for the version.
 */
import { compileL7Authz, type L7AuthzStack } from '../../core/policy/l7-filters.ts';
import { compileClusters, compileRoutes, type RouteTable, type UpstreamCluster } from '../../core/route/index.ts';
import { compileListener, selectChain, type CompiledListener, type FilterChain } from '../../core/route/listener-chains.ts';
import type { PluginBinding } from '../../core/plugin/contract.ts';
import type { envoy } from '../../core/xds/pb.ts';

type ClusterProto = envoy.config.cluster.v3.Cluster.$Properties;
type AssignmentProto = envoy.config.endpoint.v3.ClusterLoadAssignment.$Properties;

/** The decoded resources of one version, by type (what the config source delivered). */
export interface EdgeResources {
  version: string;
  listeners: { name: string; message: object }[];
  routes: { name: string; message: object }[];
  clusters: ClusterProto[];
  endpoints: AssignmentProto[];
  plugins: PluginBinding[];
}

/** One listener as the edge serves it: its port (WasmPlugin match ports, RBAC destination_port) and chains. */
export interface EdgeListener {
  readonly compiled: CompiledListener;
  readonly port: number;
}

/** What a request runs on once its listener and chain are chosen. */
export interface EdgeChain {
  readonly listener: EdgeListener;
  readonly chain: FilterChain;
  readonly routes: RouteTable | undefined;
  readonly authz: L7AuthzStack | undefined;
  /** Set when the chain has an authorization filter the edge cannot run (fail closed: 403). */
  readonly unsupported: string | undefined;
}

const HOST_CACHE_MAX = 1024;

export class EdgeModel {
  readonly #hostCache = new Map<string, EdgeChain | undefined>();
  readonly #chains = new WeakMap<FilterChain, EdgeChain>();

  constructor(
    readonly version: string,
    /** by port, ascending */
    readonly listeners: readonly EdgeListener[],
    readonly routes: ReadonlyMap<string, RouteTable>,
    readonly clusters: ReadonlyMap<string, UpstreamCluster>,
    readonly authz: ReadonlyMap<FilterChain, { stack: L7AuthzStack | undefined; unsupported: string | undefined }>,
    readonly plugins: readonly PluginBinding[],
    readonly warnings: readonly string[],
  ) {}

  /** The listener chain a request for `authority` runs on (module comment), or undefined when there is no listener. */
  chainFor(authority: string): EdgeChain | undefined {
    const cached = this.#hostCache.get(authority);
    if (cached !== undefined || this.#hostCache.has(authority)) return cached;
    const found = this.#select(authority);
    if (this.#hostCache.size >= HOST_CACHE_MAX) this.#hostCache.clear(); // arbitrary Host headers must not grow it
    this.#hostCache.set(authority, found);
    return found;
  }

  #select(authority: string): EdgeChain | undefined {
    const host = hostOf(authority);
    let firstPlain: EdgeChain | undefined;
    let first: EdgeChain | undefined;
    for (const l of this.listeners) {
      const chain = l.compiled.tls ? selectChain(l.compiled, host) : l.compiled.chains[0];
      if (chain === undefined) continue;
      const c = this.#edgeChain(l, chain);
      first ??= c;
      if (!l.compiled.tls) firstPlain ??= c;
      const vh = c.routes?.virtualHost(authority);
      if (vh !== undefined && !vh.domains.includes('*')) return c;
    }
    return firstPlain ?? first;
  }

  #edgeChain(listener: EdgeListener, chain: FilterChain): EdgeChain {
    let c = this.#chains.get(chain);
    if (c === undefined) {
      const a = this.authz.get(chain);
      c = { listener, chain, routes: this.routes.get(chain.hcm.routeConfigName), authz: a?.stack, unsupported: a?.unsupported };
      this.#chains.set(chain, c);
    }
    return c;
  }
}

/** The host of an authority, without port (`[::1]:80` -> `::1`). */
export function hostOf(authority: string): string {
  if (authority.charCodeAt(0) === 91) {
    const end = authority.indexOf(']');
    return end < 0 ? authority : authority.slice(1, end);
  }
  const colon = authority.lastIndexOf(':');
  return colon < 0 ? authority : authority.slice(0, colon);
}

/**
 * Compiles one version. A listener or route configuration that does not compile is left out with a
 * warning (the rest serves), as the Node gateway NACKs the resource; clusters compile together,
 * carrying balancer and outlier state over from `previous`.
 */
export function compileEdgeModel(r: EdgeResources, previous?: EdgeModel): EdgeModel {
  const warnings: string[] = [];
  const listeners: EdgeListener[] = [];
  const authz = new Map<FilterChain, { stack: L7AuthzStack | undefined; unsupported: string | undefined }>();
  for (const { name, message } of r.listeners) {
    try {
      const compiled = compileListener(message);
      compiled.chains.forEach((c, i) => {
        const stack = compileL7Authz(c.hcm.httpFilters ?? [], c.hcm.useRemoteAddress, `listener ${compiled.name}: filter_chains[${i}].http_filters`);
        // jwt_authn runs (jwt-authz.ts); ext_authz does not
        const unsupported = stack?.steps.find((s) => s.kind === 'ext_authz')?.kind;
        if (unsupported !== undefined) warnings.push(`listener ${compiled.name}: ext_authz (CUSTOM AuthorizationPolicy) is not run on the edge host; requests on this listener are denied (403)`);
        authz.set(c, { stack, unsupported: unsupported === undefined ? undefined : 'ext_authz' });
      });
      if (compiled.tls) warnings.push(`listener ${compiled.name}: TLS is terminated by the edge platform; its chains are chosen by the Host header as SNI`);
      listeners.push({ compiled, port: compiled.port });
    } catch (e) {
      warnings.push(`listener ${name}: ${(e as Error).message} (left out)`);
    }
  }
  listeners.sort((a, b) => a.port - b.port);
  const routes = new Map<string, RouteTable>();
  for (const { name, message } of r.routes) {
    try {
      routes.set(name, compileRoutes(message));
    } catch (e) {
      warnings.push(`route configuration ${name}: ${(e as Error).message} (left out)`);
    }
  }
  let clusters: ReadonlyMap<string, UpstreamCluster>;
  try {
    clusters = compileClusters(r.clusters, r.endpoints, previous ? { previous: previous.clusters as Map<string, UpstreamCluster> } : {});
  } catch (e) {
    warnings.push(`clusters: ${(e as Error).message}; keeping the previous upstream model`);
    clusters = previous?.clusters ?? new Map();
  }
  for (const c of clusters.values()) if (c.endpoints.some((e) => e.tunnel === 'HBONE')) warnings.push(`cluster ${c.name}: HBONE endpoints are reached by plain HTTP from the edge (no mesh mTLS)`);
  return new EdgeModel(r.version, listeners, routes, clusters, authz, r.plugins, warnings);
}
