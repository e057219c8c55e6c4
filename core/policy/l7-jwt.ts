/**
 * envoy.filters.http.jwt_authn, compiled once per config version, and the JWT checks as Envoy makes
 * them: token extraction (from_headers with value_prefix, from_params, from_cookies; by default
 * `Authorization: Bearer` and `?access_token=`), issuer, audiences, exp/nbf with 60 s of clock skew,
 * the key chosen by `kid`/`alg` from the provider's JWKS, requirements (provider_name, requires_any,
 * requires_all, allow_missing, allow_missing_or_failed) on the first rule whose prefix or path
 * matches. A verified token's payload goes into dynamic metadata (`payload_in_metadata`, with the
 * space-delimited claims made lists), `forward_payload_header` and `claim_to_headers` are set
 * upstream, and the token header is removed unless `forward`.
 *
 * Pure: signatures are checked by a JwtSignatureVerifier the host gives (node:crypto), and remote
 * JWKS come through a key source that answers from its cache or says "pending" (the host fetches and
 * calls again), so nothing here does I/O or waits.
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { set } from '../route/proto.ts';
import { durationMs } from '../route/proto.ts';
import { RouteCompileError } from '../route/types.ts';
import { queryParam } from '../route/request-match.ts';
import type { L7AuthzRequest } from './l7-request.ts';

type JwtAuthenticationProto = envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication.$Properties;
type JwtProviderProto = envoy.extensions.filters.http.jwt_authn.v3.JwtProvider.$Properties;
type JwtRequirementProto = envoy.extensions.filters.http.jwt_authn.v3.JwtRequirement.$Properties;

/** A JSON Web Key as published (RFC 7517); the host turns it into a public key. */
export interface Jwk {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  [k: string]: unknown;
}

export interface JwtSignatureVerifier {
  /** Whether `signature` over `signingInput` is valid for `alg` (RS256, ES256, ...) with `key`. */
  verify(alg: string, key: Jwk, signingInput: string, signature: Uint8Array): boolean;
}

/** Keys of a provider: its key set, 'pending' (remote, not fetched yet), or 'failed' (fetch failed). */
export type JwksState = readonly Jwk[] | 'pending' | 'failed';

export interface JwtKeySource {
  keys(provider: JwtProvider): JwksState;
}

const SUPPORTED_ALGS = new Set(['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'PS384', 'PS512']);

/** Envoy's messages (jwt_authn Status), the body of the 401. */
export const JwtStatus = {
  missing: 'Jwt is missing',
  badFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  unknownIssuer: 'Jwt issuer is not configured',
  audience: 'Audiences in Jwt are not allowed',
  expired: 'Jwt is expired',
  notYetValid: 'Jwt not yet valid',
  noKey: "Jwks doesn't have key to match kid or alg from Jwt",
  verification: 'Jwt verification fails',
  fetch: 'Jwks remote fetch is failed',
  badAlg: 'Jwt algorithm is not supported',
} as const;

export function parseJwks(text: string, path: string): Jwk[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new RouteCompileError(path, `JWKS is not JSON: ${(e as Error).message}`);
  }
  const keys = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new RouteCompileError(path, 'JWKS has no "keys" list');
  return keys.filter((k): k is Jwk => !!k && typeof k === 'object' && typeof (k as Jwk).kty === 'string');
}

interface TokenLocation {
  header?: string;
  prefix?: string;
  param?: string;
  cookie?: string;
}

export class JwtProvider {
  readonly localKeys: readonly Jwk[] | undefined;
  readonly remote: { uri: string; cluster: string; timeoutMs: number; cacheMs: number } | undefined;
  readonly locations: readonly TokenLocation[];
  readonly spaceDelimited: ReadonlySet<string>;
  /** Verified tokens -> payload, bounded (Envoy's jwt_cache_config, 100 by default). */
  readonly cache = new Map<string, { payload: Record<string, unknown>; exp: number }>();

  constructor(
    readonly name: string,
    readonly p: JwtProviderProto,
    path: string,
  ) {
    if (set(p.localJwks)) {
      const text = set(p.localJwks.inlineString) ? p.localJwks.inlineString : set(p.localJwks.inlineBytes) ? new TextDecoder().decode(p.localJwks.inlineBytes) : undefined;
      if (text === undefined) throw new RouteCompileError(`${path}.local_jwks`, 'only inline JWKS are supported');
      this.localKeys = parseJwks(text, `${path}.local_jwks`);
    } else if (set(p.remoteJwks)) {
      const u = p.remoteJwks.httpUri;
      if (!u?.uri) throw new RouteCompileError(`${path}.remote_jwks.http_uri`, 'uri is required');
      this.remote = { uri: u.uri, cluster: u.cluster ?? '', timeoutMs: durationMs(u.timeout, 5000), cacheMs: durationMs(p.remoteJwks.cacheDuration, 300_000) };
    } else throw new RouteCompileError(path, 'a provider needs local_jwks or remote_jwks');
    const locs: TokenLocation[] = [];
    for (const h of p.fromHeaders ?? []) locs.push({ header: (h.name ?? '').toLowerCase(), prefix: h.valuePrefix ?? '' });
    for (const q of p.fromParams ?? []) locs.push({ param: q });
    for (const c of p.fromCookies ?? []) locs.push({ cookie: c });
    if (locs.length === 0) locs.push({ header: 'authorization', prefix: 'Bearer ' }, { param: 'access_token' });
    this.locations = locs;
    this.spaceDelimited = new Set(p.normalizePayloadInMetadata?.spaceDelimitedClaims ?? []);
  }

  get issuer(): string {
    return this.p.issuer ?? '';
  }

  /** The first token found in this provider's locations, and where. */
  extract(r: L7AuthzRequest): { token: string; loc: TokenLocation } | undefined {
    for (const loc of this.locations) {
      let v: string | undefined;
      if (loc.header !== undefined) {
        const raw = r.req.header(loc.header);
        if (raw === undefined) continue;
        const pre = loc.prefix ?? '';
        if (pre && raw.slice(0, pre.length).toLowerCase() !== pre.toLowerCase()) continue;
        v = raw.slice(pre.length).trim();
        const end = v.search(/[^A-Za-z0-9\-_.=+/]/);
        if (end >= 0) v = v.slice(0, end);
      } else if (loc.param !== undefined) {
        const t = r.req.target;
        const q = t.indexOf('?');
        if (q < 0) continue;
        v = queryParam(t, q + 1, t.length, loc.param);
      } else if (loc.cookie !== undefined) {
        const c = r.req.header('cookie');
        if (c === undefined) continue;
        for (const part of c.split(/;\s*/)) if (part.startsWith(`${loc.cookie}=`)) v = part.slice(loc.cookie.length + 1);
      }
      if (v) return { token: v, loc };
    }
    return undefined;
  }
}

function b64urlDecode(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(s)) return undefined;
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  try {
    const bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

function jsonSegment(s: string): Record<string, unknown> | undefined {
  const bytes = b64urlDecode(s);
  if (!bytes) return undefined;
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export type VerifyResult = { ok: true; payload: Record<string, unknown> } | { ok: false; status: string };

const SKEW_S = 60;

/** Verifies one token with one provider (Envoy's authenticator). `nowMs`: wall clock. */
export function verifyToken(provider: JwtProvider, token: string, keys: readonly Jwk[], verifier: JwtSignatureVerifier, nowMs: number): VerifyResult {
  const hit = provider.cache.get(token);
  const now = nowMs / 1000;
  if (hit !== undefined && (hit.exp === 0 || now <= hit.exp + SKEW_S)) return { ok: true, payload: hit.payload };
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, status: JwtStatus.badFormat };
  const header = jsonSegment(parts[0]!);
  const payload = jsonSegment(parts[1]!);
  const sig = b64urlDecode(parts[2]!);
  if (!header || !payload || !sig) return { ok: false, status: JwtStatus.badFormat };
  const alg = header.alg;
  if (typeof alg !== 'string' || !SUPPORTED_ALGS.has(alg)) return { ok: false, status: JwtStatus.badAlg };
  if (provider.issuer && payload.iss !== provider.issuer) return { ok: false, status: JwtStatus.unknownIssuer };
  const auds = provider.p.audiences ?? [];
  if (auds.length) {
    const aud = payload.aud;
    const list = Array.isArray(aud) ? aud : typeof aud === 'string' ? [aud] : [];
    if (!list.some((a) => auds.includes(a))) return { ok: false, status: JwtStatus.audience };
  }
  const exp = typeof payload.exp === 'number' ? payload.exp : 0;
  if (exp && now > exp + SKEW_S) return { ok: false, status: JwtStatus.expired };
  if (typeof payload.nbf === 'number' && now < payload.nbf - SKEW_S) return { ok: false, status: JwtStatus.notYetValid };
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const kty = alg.startsWith('ES') ? 'EC' : 'RSA';
  const candidates = keys.filter((k) => k.kty === kty && (kid === undefined || k.kid === undefined || k.kid === kid) && (k.alg === undefined || k.alg === alg));
  if (candidates.length === 0) return { ok: false, status: JwtStatus.noKey };
  const input = `${parts[0]}.${parts[1]}`;
  let good = false;
  for (const k of candidates) {
    try {
      if (verifier.verify(alg, k, input, sig)) {
        good = true;
        break;
      }
    } catch {
      // an unusable key is skipped (Envoy ignores keys it cannot parse)
    }
  }
  if (!good) return { ok: false, status: JwtStatus.verification };
  for (const c of provider.spaceDelimited) {
    const v = payload[c];
    if (typeof v === 'string') payload[c] = v.split(' ').filter(Boolean);
  }
  if (provider.cache.size >= 100) provider.cache.delete(provider.cache.keys().next().value!);
  provider.cache.set(token, { payload, exp });
  return { ok: true, payload };
}

// ---- requirements ----

const enum ReqKind {
  Provider = 0,
  Any = 1,
  All = 2,
  AllowMissing = 3,
  AllowMissingOrFailed = 4,
}

interface Requirement {
  kind: ReqKind;
  provider?: JwtProvider;
  children?: readonly Requirement[];
}

/** One requirement's outcome: ok, missing, or failed with Envoy's status. */
type Outcome = { kind: 'ok' } | { kind: 'missing' } | { kind: 'failed'; status: string } | { kind: 'pending'; provider: JwtProvider };
const OK: Outcome = { kind: 'ok' };
const MISSING: Outcome = { kind: 'missing' };

export type JwtCheck = { ok: true } | { ok: false; status: string; invalid: boolean } | { pending: JwtProvider };

export class JwtAuthn {
  constructor(
    readonly providers: ReadonlyMap<string, JwtProvider>,
    readonly rules: readonly { prefix?: string; path?: string; requires: Requirement | undefined }[],
    readonly bypassCorsPreflight: boolean,
  ) {}

  /**
   * Checks one request. `{pending}`: the provider's remote keys are not loaded (fetch them, then
   * check again). On success the payloads are in `r.jwtMetadata` and the upstream headers in `r`.
   */
  check(r: L7AuthzRequest, keys: JwtKeySource, verifier: JwtSignatureVerifier, nowMs: number): JwtCheck {
    const req = r.req;
    if (this.bypassCorsPreflight && req.method === 'OPTIONS' && req.header('origin') !== undefined && req.header('access-control-request-method') !== undefined) return { ok: true };
    const path = r.path();
    let requires: Requirement | undefined;
    for (const rule of this.rules) {
      if (rule.prefix !== undefined ? path.startsWith(rule.prefix) : path === rule.path) {
        requires = rule.requires;
        break;
      }
    }
    if (requires === undefined) return { ok: true };
    const verified = new Map<JwtProvider, VerifyResult | 'missing'>();
    const out = this.#eval(requires, r, keys, verifier, nowMs, verified);
    if (out.kind === 'pending') return { pending: out.provider };
    if (out.kind === 'missing') return { ok: false, status: JwtStatus.missing, invalid: false };
    if (out.kind === 'failed') return { ok: false, status: out.status, invalid: true };
    for (const [p, v] of verified) if (v !== 'missing' && v.ok) this.#apply(p, v.payload, r);
    return { ok: true };
  }

  #verify(p: JwtProvider, r: L7AuthzRequest, keys: JwtKeySource, verifier: JwtSignatureVerifier, nowMs: number, verified: Map<JwtProvider, VerifyResult | 'missing'>): Outcome {
    const seen = verified.get(p);
    if (seen !== undefined) return seen === 'missing' ? MISSING : seen.ok ? OK : { kind: 'failed', status: seen.status };
    const t = p.extract(r);
    if (t === undefined) {
      verified.set(p, 'missing');
      return MISSING;
    }
    const ks = p.localKeys ?? keys.keys(p);
    if (ks === 'pending') return { kind: 'pending', provider: p };
    const v: VerifyResult = ks === 'failed' ? { ok: false, status: JwtStatus.fetch } : verifyToken(p, t.token, ks, verifier, nowMs);
    verified.set(p, v);
    return v.ok ? OK : { kind: 'failed', status: v.status };
  }

  #eval(q: Requirement, r: L7AuthzRequest, keys: JwtKeySource, verifier: JwtSignatureVerifier, nowMs: number, verified: Map<JwtProvider, VerifyResult | 'missing'>): Outcome {
    switch (q.kind) {
      case ReqKind.Provider:
        return this.#verify(q.provider!, r, keys, verifier, nowMs, verified);
      case ReqKind.AllowMissing:
      case ReqKind.AllowMissingOrFailed: {
        // Standalone: every provider's token, if present, is checked; missing passes.
        let failed: Outcome | undefined;
        for (const p of this.providers.values()) {
          const o = this.#verify(p, r, keys, verifier, nowMs, verified);
          if (o.kind === 'pending') return o;
          if (o.kind === 'ok') return OK;
          if (o.kind === 'failed') failed ??= o;
        }
        return failed && q.kind === ReqKind.AllowMissing ? failed : OK;
      }
      case ReqKind.Any: {
        let failed: Outcome | undefined;
        let allowMissing = false;
        let allowFailed = false;
        for (const c of q.children!) {
          if (c.kind === ReqKind.AllowMissing) {
            allowMissing = true;
            continue;
          }
          if (c.kind === ReqKind.AllowMissingOrFailed) {
            allowFailed = true;
            continue;
          }
          const o = this.#eval(c, r, keys, verifier, nowMs, verified);
          if (o.kind === 'pending' || o.kind === 'ok') return o;
          if (o.kind === 'failed') failed ??= o;
        }
        if (allowFailed) return OK;
        if (failed) return failed;
        return allowMissing ? OK : MISSING;
      }
      case ReqKind.All: {
        for (const c of q.children!) {
          const o = this.#eval(c, r, keys, verifier, nowMs, verified);
          if (o.kind !== 'ok') return o;
        }
        return OK;
      }
    }
  }

  #apply(p: JwtProvider, payload: Record<string, unknown>, r: L7AuthzRequest): void {
    const key = p.p.payloadInMetadata;
    if (key) (r.jwtMetadata ??= {})[key] = payload;
    const t = p.extract(r);
    if (t === undefined) return;
    if (p.p.forwardPayloadHeader) r.setUpstream(p.p.forwardPayloadHeader.toLowerCase(), t.token.split('.')[1]!);
    for (const c of p.p.claimToHeaders ?? []) {
      const v = payload[c.claimName ?? ''];
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') r.setUpstream((c.headerName ?? '').toLowerCase(), String(v));
    }
    if (!p.p.forward && t.loc.header !== undefined) r.removeUpstream(t.loc.header);
  }
}

function compileRequirement(q: JwtRequirementProto | null | undefined, providers: ReadonlyMap<string, JwtProvider>, path: string): Requirement | undefined {
  if (!set(q)) return undefined;
  if (set(q.providerName)) {
    const provider = providers.get(q.providerName);
    if (!provider) throw new RouteCompileError(`${path}.provider_name`, `no provider ${q.providerName}`);
    return { kind: ReqKind.Provider, provider };
  }
  if (set(q.requiresAny)) return { kind: ReqKind.Any, children: (q.requiresAny.requirements ?? []).map((c, i) => compileRequirement(c, providers, `${path}.requires_any.requirements[${i}]`)!).filter(Boolean) };
  if (set(q.requiresAll)) return { kind: ReqKind.All, children: (q.requiresAll.requirements ?? []).map((c, i) => compileRequirement(c, providers, `${path}.requires_all.requirements[${i}]`)!).filter(Boolean) };
  if (set(q.allowMissing)) return { kind: ReqKind.AllowMissing };
  if (set(q.allowMissingOrFailed)) return { kind: ReqKind.AllowMissingOrFailed };
  if (set(q.providerAndAudiences)) throw new RouteCompileError(`${path}.provider_and_audiences`, 'not supported');
  return undefined;
}

export function compileJwtAuthn(cfg: JwtAuthenticationProto, path: string): JwtAuthn {
  const providers = new Map<string, JwtProvider>();
  for (const [name, p] of Object.entries(cfg.providers ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) providers.set(name, new JwtProvider(name, p, `${path}.providers[${JSON.stringify(name)}]`));
  const rules = (cfg.rules ?? []).map((rule, i) => {
    const m = rule.match;
    const rp = `${path}.rules[${i}]`;
    if (set(rule.requirementName)) throw new RouteCompileError(`${rp}.requirement_name`, 'not supported');
    const requires = compileRequirement(rule.requires, providers, `${rp}.requires`);
    if (set(m?.prefix)) return { prefix: m.prefix, requires };
    if (set(m?.path)) return { path: m.path, requires };
    throw new RouteCompileError(`${rp}.match`, 'only prefix and path matches are supported');
  });
  return new JwtAuthn(providers, rules, cfg.bypassCorsPreflight === true);
}
