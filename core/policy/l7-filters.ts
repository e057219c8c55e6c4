/**
 * A filter chain's authorization filters (the HCM's http_filters in order, core/route/README.md):
 * jwt_authn, ext_authz and RBAC compiled into a list of steps the L7 host runs before routing. Other
 * filters (fault, CORS, router) are the route handler's. A chain with none of these compiles to
 * undefined, so a policy-free chain pays nothing per request.
 */
import { envoy } from '../xds/pb.ts';
import type { HttpFilterConfig } from '../route/listener-chains.ts';
import { RouteCompileError } from '../route/types.ts';
import { compileExtAuthz, type ExtAuthz } from './l7-ext-authz.ts';
import { compileJwtAuthn, type JwtAuthn } from './l7-jwt.ts';
import { compileRbacFilter, type RbacFilter } from './l7-rbac.ts';

const PREFIX = 'type.googleapis.com/';
export const L7_AUTHZ_TYPE_URL = {
  rbac: `${PREFIX}envoy.extensions.filters.http.rbac.v3.RBAC`,
  jwt: `${PREFIX}envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`,
  extAuthz: `${PREFIX}envoy.extensions.filters.http.ext_authz.v3.ExtAuthz`,
} as const;

export type L7AuthzStep = { readonly kind: 'jwt'; readonly jwt: JwtAuthn } | { readonly kind: 'rbac'; readonly rbac: RbacFilter } | { readonly kind: 'ext_authz'; readonly ext: ExtAuthz };

export interface L7AuthzStack {
  readonly steps: readonly L7AuthzStep[];
  /** The HCM's use_remote_address: the original client is the peer (an edge proxy), else the last x-forwarded-for entry. */
  readonly useRemoteAddress: boolean;
}

/** Compiles the authorization filters of one HCM; undefined when it has none. Throws RouteCompileError (the listener NACKs). */
export function compileL7Authz(filters: readonly HttpFilterConfig[], useRemoteAddress: boolean, path = 'http_filters'): L7AuthzStack | undefined {
  const steps: L7AuthzStep[] = [];
  filters.forEach((f, i) => {
    const p = `${path}[${i}]`;
    try {
      switch (f.typeUrl) {
        case L7_AUTHZ_TYPE_URL.rbac:
          steps.push({ kind: 'rbac', rbac: compileRbacFilter(envoy.extensions.filters.http.rbac.v3.RBAC.decode(f.value), `${p}.rbac`) });
          break;
        case L7_AUTHZ_TYPE_URL.jwt:
          steps.push({ kind: 'jwt', jwt: compileJwtAuthn(envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication.decode(f.value), `${p}.jwt_authn`) });
          break;
        case L7_AUTHZ_TYPE_URL.extAuthz:
          steps.push({ kind: 'ext_authz', ext: compileExtAuthz(envoy.extensions.filters.http.ext_authz.v3.ExtAuthz.decode(f.value), `${p}.ext_authz`) });
          break;
        default:
          break;
      }
    } catch (e) {
      if (e instanceof RouteCompileError) throw e;
      throw new RouteCompileError(p, `cannot decode ${f.typeUrl}: ${(e as Error).message}`);
    }
  });
  return steps.length ? { steps, useRemoteAddress } : undefined;
}
