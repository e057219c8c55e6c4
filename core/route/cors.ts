/**
 * Per-route CORS (envoy.filters.http.cors's CorsPolicy from typed_per_filter_config), as Envoy's
 * cors filter answers: a request with an Origin that one of allow_origin_string_match accepts is a
 * CORS request. A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by the
 * proxy with 200 and the allow-* headers (the request's Origin echoed); any other CORS request is
 * forwarded and its response gets Access-Control-Allow-Origin, -Allow-Credentials and -Expose-Headers.
 * A preflight from an origin not allowed is forwarded, or answered 200 without CORS headers when
 * forward_not_matching_preflights is false. filter_enabled is drawn with the caller's random.
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { fraction, set, wrapped } from './proto.ts';
import { compileStringMatcher } from './string-matcher.ts';
import type { StringMatch } from './string-matcher.ts';
import type { MutableHeaders, RouteRequest } from './types.ts';

export const enum Preflight {
  /** Not a CORS preflight for this policy: route the request. */
  Forward = 0,
  /** Answer 200 now with the headers written to `out`. */
  Answer = 1,
}

export class Cors {
  constructor(
    readonly origins: readonly StringMatch[],
    readonly allowMethods: string,
    readonly allowHeaders: string,
    readonly exposeHeaders: string,
    readonly maxAge: string,
    readonly allowCredentials: boolean,
    readonly allowPrivateNetwork: boolean,
    readonly forwardNotMatchingPreflights: boolean,
    readonly enabledFraction: number,
  ) {}

  /** The request's Origin when it is allowed, else undefined. */
  allowedOrigin(req: RouteRequest): string | undefined {
    const origin = req.header('origin');
    if (origin === undefined || origin === '') return undefined;
    for (let i = 0; i < this.origins.length; i++) if (this.origins[i]!.match(origin)) return origin;
    return undefined;
  }

  /** For a preflight, writes the answer's headers to `out` and says Answer; otherwise Forward. */
  preflight(req: RouteRequest, out: MutableHeaders, random: () => number): Preflight {
    if (req.method !== 'OPTIONS') return Preflight.Forward;
    const origin = req.header('origin');
    const method = req.header('access-control-request-method');
    if (!origin || !method) return Preflight.Forward;
    if (this.enabledFraction < 1 && !(random() < this.enabledFraction)) return Preflight.Forward;
    if (this.allowedOrigin(req) === undefined) return this.forwardNotMatchingPreflights ? Preflight.Forward : Preflight.Answer;
    out.set('access-control-allow-origin', origin);
    if (this.allowCredentials) out.set('access-control-allow-credentials', 'true');
    if (this.allowMethods) out.set('access-control-allow-methods', this.allowMethods);
    if (this.allowHeaders) out.set('access-control-allow-headers', this.allowHeaders);
    if (this.maxAge) out.set('access-control-max-age', this.maxAge);
    if (this.allowPrivateNetwork && req.header('access-control-request-private-network') === 'true') out.set('access-control-allow-private-network', 'true');
    return Preflight.Answer;
  }

  /** Adds the CORS response headers for a forwarded CORS request (call with the upstream response's headers). */
  decorate(req: RouteRequest, response: MutableHeaders): void {
    const origin = this.allowedOrigin(req);
    if (origin === undefined) return;
    response.set('access-control-allow-origin', origin);
    if (this.allowCredentials) response.set('access-control-allow-credentials', 'true');
    if (this.exposeHeaders) response.set('access-control-expose-headers', this.exposeHeaders);
  }
}

export function compileCors(c: envoy.extensions.filters.http.cors.v3.CorsPolicy.$Properties, path: string): Cors {
  const origins = (c.allowOriginStringMatch ?? []).map((m, i) => compileStringMatcher(m, `${path}.allow_origin_string_match[${i}]`));
  return new Cors(
    origins,
    c.allowMethods ?? '',
    c.allowHeaders ?? '',
    c.exposeHeaders ?? '',
    c.maxAge ?? '',
    wrapped(c.allowCredentials, false),
    wrapped(c.allowPrivateNetworkAccess, false),
    wrapped(c.forwardNotMatchingPreflights, true),
    set(c.filterEnabled) ? fraction(c.filterEnabled.defaultValue, 1) : 1,
  );
}
