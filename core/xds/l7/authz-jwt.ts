/**
 * RequestAuthentication jwtRules -> envoy.filters.http.jwt_authn's JwtAuthentication, as istiod's
 * convertToEnvoyJwtConfig (pilot/pkg/security/authn/policy_applier.go): one provider `origins-<i>`
 * per rule (issuer, audiences, forward, forward_payload_header, payload_in_metadata `payload`,
 * from_headers/params/cookies, claim_to_headers), one rule for prefix `/` that requires, per provider,
 * "that provider or allow_missing" (AND-ed when several, OR-ed with each provider alone): a request
 * without a token passes with no request principal, a request with an invalid token gets 401.
 *
 * JWKS: `jwks` inline -> local_jwks; `jwksUri` -> remote_jwks (the proxy fetches and caches it for 5
 * minutes; the http_uri cluster is `outbound|<port>||<host>` as istiod writes it when the host is not
 * in the mesh). Neither: istiod would resolve the issuer's OpenID discovery document; Weft does not
 * yet, and writes an empty key set (every token fails, as istiod's fallback when it cannot fetch).
 */
import type { ConfigResource, MeshSnapshot } from '../../config/snapshot.ts';
import type { envoy } from '../pb.ts';
import { JWT_PAYLOAD } from './authz-rbac.ts';
import { duration, msDuration } from './proto-util.ts';
import { subsetClusterName } from './names.ts';

type Jwt = typeof envoy.extensions.filters.http.jwt_authn.v3;
type JwtAuthenticationProto = envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication.$Properties;
type JwtProviderProto = envoy.extensions.filters.http.jwt_authn.v3.JwtProvider.$Properties;
type JwtRequirementProto = envoy.extensions.filters.http.jwt_authn.v3.JwtRequirement.$Properties;
export type { Jwt };

export interface JwtRuleSpec {
  issuer: string;
  audiences?: readonly string[];
  jwksUri?: string;
  jwks_uri?: string;
  jwks?: string;
  fromHeaders?: readonly { name: string; prefix?: string }[];
  fromParams?: readonly string[];
  fromCookies?: readonly string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: readonly { header: string; claim: string }[];
  spaceDelimitedClaims?: readonly string[];
  timeout?: string;
}

export interface RequestAuthenticationSpec {
  jwtRules?: readonly JwtRuleSpec[];
}

export const EMPTY_JWKS = '{"keys":[]}';

function uriParts(uri: string): { host: string; port: number } | undefined {
  const m = /^(https?):\/\/(\[[^\]]+\]|[^/:?#]+)(?::(\d+))?/.exec(uri);
  if (!m) return undefined;
  return { host: m[2]!, port: m[3] ? Number(m[3]) : m[1] === 'https' ? 443 : 80 };
}

export function jwtProvider(rule: JwtRuleSpec, snapshot: MeshSnapshot | undefined, warn?: (message: string) => void): JwtProviderProto {
  const p: JwtProviderProto = {
    issuer: rule.issuer,
    audiences: [...(rule.audiences ?? [])],
    forward: rule.forwardOriginalToken === true,
    forwardPayloadHeader: rule.outputPayloadToHeader ?? '',
    payloadInMetadata: JWT_PAYLOAD,
    normalizePayloadInMetadata: { spaceDelimitedClaims: [...new Set([...(rule.spaceDelimitedClaims ?? []), 'permission', 'scope'])].sort() },
    fromHeaders: (rule.fromHeaders ?? []).map((h) => ({ name: h.name, valuePrefix: h.prefix ?? '' })),
    fromParams: [...(rule.fromParams ?? [])],
    fromCookies: [...(rule.fromCookies ?? [])],
    claimToHeaders: (rule.outputClaimToHeaders ?? []).map((c) => ({ headerName: c.header, claimName: c.claim })),
  };
  const timeout = duration(rule.timeout) ?? msDuration(5000);
  const uri = rule.jwksUri ?? rule.jwks_uri;
  if (rule.jwks !== undefined) p.localJwks = { inlineString: rule.jwks };
  else if (uri) {
    const parts = uriParts(uri);
    const host = parts && snapshot?.services.find((s) => s.hostname === parts.host && s.ports.some((x) => x.port === parts.port));
    p.remoteJwks = {
      httpUri: { uri, cluster: parts ? subsetClusterName(host ? host.hostname : parts.host, parts.port) : '', timeout },
      cacheDuration: msDuration(300_000),
    };
  } else {
    warn?.(`issuer ${rule.issuer}: neither jwks nor jwksUri is set and OpenID discovery is not supported yet; every token of this issuer is refused`);
    p.localJwks = { inlineString: EMPTY_JWKS };
  }
  return p;
}

/** The JwtAuthentication of a set of RequestAuthentications (their rules in order), or undefined when none has rules. */
export function jwtAuthnFilter(list: readonly { resource: ConfigResource; spec: RequestAuthenticationSpec }[], snapshot: MeshSnapshot | undefined, warn?: (res: ConfigResource, path: string, message: string) => void): JwtAuthenticationProto | undefined {
  const providers: Record<string, JwtProviderProto> = {};
  const inner: JwtRequirementProto[] = [];
  const outer: JwtRequirementProto[] = [];
  let i = 0;
  for (const { resource, spec } of list) {
    (spec.jwtRules ?? []).forEach((rule, j) => {
      const name = `origins-${i++}`;
      providers[name] = jwtProvider(rule, snapshot, (m) => warn?.(resource, `spec.jwtRules[${j}]`, m));
      inner.push({ requiresAny: { requirements: [{ providerName: name }, { allowMissing: {} }] } });
      outer.push({ providerName: name });
    });
  }
  if (inner.length === 0) return undefined;
  const requires: JwtRequirementProto = inner.length === 1 ? inner[0]! : { requiresAny: { requirements: [...outer, { requiresAll: { requirements: inner } }] } };
  return { rules: [{ match: { prefix: '/' }, requires }], providers, bypassCorsPreflight: true };
}
