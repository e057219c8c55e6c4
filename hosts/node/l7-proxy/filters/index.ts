/**
 * The L7 proxy's authorization filters (AuthorizationPolicy / RequestAuthentication, issue 4):
 * compiled per listener when LDS arrives (a bad filter config NACKs the listener), then one runner
 * per route configuration name for the route handler's single call site.
 */
import { compileL7Authz, type L7AuthzStack } from '../../../../core/policy/l7-filters.ts';
import type { CompiledListener, FilterChain } from '../../../../core/route/listener-chains.ts';
import type { UpstreamCluster } from '../../../../core/route/index.ts';
import { L7AuthzRunner, type AuthzDeps } from './authz-runner.ts';
import { ExtAuthzClient } from './ext-authz-client.ts';
import { JwksCache } from '../../../../core/policy/jwks-cache.ts';
import { NodeJwtVerifier } from './jwt-crypto.ts';

export { L7AuthzRunner } from './authz-runner.ts';
export type { AuthzContinuation, AuthzState } from './authz-runner.ts';

/** Compiled authorization filters by chain (a cache keyed by the compiled chain object). */
const byChain = new WeakMap<FilterChain, L7AuthzStack>();

/** Compiles every chain's authorization filters (throws RouteCompileError: the listener is refused). Returns the listener. */
export function compileListenerAuthz(l: CompiledListener): CompiledListener {
  l.chains.forEach((c, i) => {
    const stack = compileL7Authz(c.hcm.httpFilters ?? [], c.hcm.useRemoteAddress, `listener ${l.name}: filter_chains[${i}].http_filters`);
    if (stack !== undefined) byChain.set(c, stack);
  });
  return l;
}

export function authzDeps(cluster: (name: string) => UpstreamCluster | undefined, log?: (level: 'warn' | 'debug', msg: string) => void): AuthzDeps {
  return { jwks: new JwksCache({ fetch: (uri, init) => fetch(uri, init), ...(log ? { log } : {}) }), verifier: new NodeJwtVerifier(), extAuthz: new ExtAuthzClient(cluster), now: Date.now };
}

/** Route configuration name -> runner, for the listeners of one config version (none when no chain has such filters). */
export function authzRunners(listeners: readonly CompiledListener[], deps: AuthzDeps): Map<string, L7AuthzRunner> {
  const out = new Map<string, L7AuthzRunner>();
  for (const l of listeners) {
    for (const c of l.chains) {
      const stack = byChain.get(c);
      if (stack !== undefined) out.set(c.hcm.routeConfigName, new L7AuthzRunner(stack, deps));
    }
  }
  return out;
}
