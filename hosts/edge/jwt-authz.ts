/**
 * A chain's authorization filters on the edge host when they include jwt_authn
 * (RequestAuthentication), in the HCM's order as the Node gateway runs them
 * (hosts/node/l7-proxy/filters/authz-runner.ts): jwt_authn -> 401 with Envoy's message and
 * `www-authenticate: Bearer realm="<url>"` (`, error="invalid_token"` for a bad token); RBAC ->
 * 403 `RBAC: access denied`, with the verified payload in the request's metadata, so
 * AuthorizationPolicy `requestPrincipals` and `request.auth.claims[...]` match. Signatures are
 * checked by WebCrypto (async: core/policy/l7-jwt-async.ts); remote JWKS are fetched and cached
 * (core/policy/jwks-cache.ts). A chain without jwt_authn never comes here (its RBAC stays synchronous).
 *
 * jwt_authn's upstream changes (the token header removed unless forwarded, claim and payload
 * headers) are made on the request's headers when the filters pass, as Envoy's filter does.
 */
import { checkJwtAsync } from '../../core/policy/l7-jwt-async.ts';
import { JwtStatus } from '../../core/policy/l7-jwt.ts';
import type { L7AuthzStack } from '../../core/policy/l7-filters.ts';
import type { L7AuthzRequest } from '../../core/policy/l7-request.ts';
import type { EdgeRequest } from './edge-request.ts';
import { JwksCache } from '../../core/policy/jwks-cache.ts';
import { WebCryptoJwtVerifier } from './jwt-webcrypto.ts';

export interface EdgeJwtDeps {
  jwks: JwksCache;
  verifier: WebCryptoJwtVerifier;
  now: () => number;
}

let shared: EdgeJwtDeps | undefined;

/** One JWKS cache and verifier per isolate (keys are cached across config versions by URI and JWK). */
export function edgeJwtDeps(): EdgeJwtDeps {
  return (shared ??= { jwks: new JwksCache({ fetch: (uri, init) => fetch(uri, init), log: (_l, m) => console.log(`${new Date().toISOString()} warn ${m}`) }), verifier: new WebCryptoJwtVerifier(), now: Date.now });
}

export function hasJwt(stack: L7AuthzStack): boolean {
  return stack.steps.some((s) => s.kind === 'jwt');
}

const TEXT = { 'content-type': 'text/plain' };

function jwtFailed(ctx: L7AuthzRequest, status: string, invalid: boolean): Response {
  const realm = `${ctx.req.scheme}://${ctx.req.authority}${ctx.path()}`;
  return new Response(status, { status: 401, headers: { 'www-authenticate': `Bearer realm="${realm}"${invalid ? ', error="invalid_token"' : ''}`, ...TEXT } });
}

/** Runs the stack; a Response denies, undefined lets the request on (its headers changed as jwt_authn says). */
export async function authorizeWithJwt(stack: L7AuthzStack, ctx: L7AuthzRequest, req: EdgeRequest, deps: EdgeJwtDeps = edgeJwtDeps()): Promise<Response | undefined> {
  for (const s of stack.steps) {
    if (s.kind === 'jwt') {
      let res = await checkJwtAsync(s.jwt, ctx, deps.jwks, deps.verifier, deps.now());
      if ('pending' in res) {
        await deps.jwks.load(res.pending);
        res = await checkJwtAsync(s.jwt, ctx, deps.jwks, deps.verifier, deps.now());
        if ('pending' in res) return jwtFailed(ctx, JwtStatus.fetch, true);
      }
      if (!res.ok) return jwtFailed(ctx, res.status, res.invalid);
    } else if (s.kind === 'rbac') {
      if (s.rbac.check(ctx) !== null) return new Response('RBAC: access denied', { status: 403, headers: TEXT });
    } else {
      // ext_authz is not run on the edge (edge-model.ts fails such a chain closed before this)
      return new Response('RBAC: access denied', { status: 403, headers: TEXT });
    }
  }
  if (ctx.upstreamRemove !== undefined || ctx.upstreamSet !== undefined) {
    const h = req.writable();
    for (const name of ctx.upstreamRemove ?? []) h.delete(name);
    const set = ctx.upstreamSet ?? [];
    for (let i = 0; i < set.length; i += 2) h.set(set[i]!, set[i + 1]!);
  }
  return undefined;
}
