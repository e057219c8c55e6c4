/**
 * Runs a filter chain's authorization filters (core/policy/l7-filters.ts) on one request, in the
 * HCM's order, before the route handler acts on it:
 * - jwt_authn: 401 with the Envoy message as body and `www-authenticate: Bearer realm="<url>"`
 *   (`, error="invalid_token"` for a bad token); remote JWKS loaded on first use (JwksCache);
 * - RBAC: 403 `RBAC: access denied` (response flag `-`: Envoy has no RBAC flag);
 * - ext_authz: the authorizer's status, headers and body on a deny (flag `UAEX`), status_on_error
 *   when it does not answer unless failure_mode_allow; its allowed headers go upstream.
 * Synchronous unless a step waits (a JWKS fetch, the ext_authz call). One runner per route
 * configuration per config version; per request one L7AuthzRequest, no closures.
 */
import type { L7AuthzStack } from '../../../../core/policy/l7-filters.ts';
import { L7AuthzRequest, remoteAddressOf } from '../../../../core/policy/l7-request.ts';
import type { RouteRequest } from '../../../../core/route/index.ts';
import type { L7Exchange, RequestHeadView } from '../../l7/index.ts';
import type { ExtAuthzClient } from './ext-authz-client.ts';
import type { JwksCache } from '../../../../core/policy/jwks-cache.ts';
import type { NodeJwtVerifier } from './jwt-crypto.ts';

/** The route handler's per-request state, as far as the filters write to it. */
export interface AuthzState {
  flag: string;
  authz: L7AuthzRequest | undefined;
}

/** What runs after the filters allowed the request (the route handler). */
export interface AuthzContinuation {
  proceed(ex: L7Exchange): void | Promise<void>;
}

/** Engines that know the peer (a waypoint's HBONE stream) expose its URI SAN on the head. */
interface PeerAwareHead extends RequestHeadView {
  readonly peerPrincipal?: string;
  readonly sni?: string;
  readonly localAddress?: string;
}

export interface AuthzDeps {
  jwks: JwksCache;
  verifier: NodeJwtVerifier;
  extAuthz: ExtAuthzClient;
  now: () => number;
}

const TEXT = ['content-type', 'text/plain'];
const RBAC_DENIED = 'RBAC: access denied';

export class L7AuthzRunner {
  constructor(
    readonly stack: L7AuthzStack,
    readonly deps: AuthzDeps,
  ) {}

  run(ex: L7Exchange, st: AuthzState, req: RouteRequest, port: number, next: AuthzContinuation): void | Promise<void> {
    const head = ex.request as PeerAwareHead;
    const ctx = new L7AuthzRequest(req, head.remoteAddress, remoteAddressOf(req, head.remoteAddress, this.stack.useRemoteAddress), port, head.peerPrincipal, head.sni);
    ctx.headerList = head.headers;
    if (head.localAddress !== undefined) ctx.destinationIp = head.localAddress;
    st.authz = ctx;
    return this.#from(0, ex, st, ctx, next, false);
  }

  #from(i: number, ex: L7Exchange, st: AuthzState, ctx: L7AuthzRequest, next: AuthzContinuation, reloaded: boolean): void | Promise<void> {
    const steps = this.stack.steps;
    for (; i < steps.length; i++) {
      const s = steps[i]!;
      switch (s.kind) {
        case 'jwt': {
          const res = s.jwt.check(ctx, this.deps.jwks, this.deps.verifier, this.deps.now());
          if ('pending' in res) {
            if (reloaded) return this.#jwtFailed(ex, st, ctx, 'Jwks remote fetch is failed', true);
            const at = i;
            return this.deps.jwks.load(res.pending).then(() => this.#from(at, ex, st, ctx, next, true));
          }
          if (!res.ok) return this.#jwtFailed(ex, st, ctx, res.status, res.invalid);
          reloaded = false;
          break;
        }
        case 'rbac': {
          const d = s.rbac.check(ctx);
          if (d !== null) {
            st.flag = '-';
            return ex.respond(403, TEXT, RBAC_DENIED);
          }
          break;
        }
        case 'ext_authz': {
          if (!s.ext.appliesTo(ctx)) break;
          const ext = s.ext;
          const at = i + 1;
          return this.deps.extAuthz.check(ext, ext.checkRequest(ctx)).then((answer) => {
            const d = answer === undefined ? ext.failed() : ext.decide(answer.status, answer.headers, answer.body);
            if (!d.allowed) {
              st.flag = 'UAEX';
              return ex.respond(d.status, d.headers, d.body);
            }
            if (d.upstream) for (let j = 0; j < d.upstream.length; j += 2) ctx.setUpstream(d.upstream[j]!, d.upstream[j + 1]!);
            return this.#from(at, ex, st, ctx, next, false);
          });
        }
      }
    }
    return next.proceed(ex);
  }

  #jwtFailed(ex: L7Exchange, st: AuthzState, ctx: L7AuthzRequest, status: string, invalid: boolean): void {
    st.flag = '-';
    const realm = `${ctx.req.scheme}://${ctx.req.authority}${ctx.path()}`;
    ex.respond(401, ['www-authenticate', `Bearer realm="${realm}"${invalid ? ', error="invalid_token"' : ''}`, ...TEXT], status);
  }
}
