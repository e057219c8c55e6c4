/**
 * RouteAction.hash_policy, compiled: the request hash for ring hash / maglev clusters. Each policy
 * may produce a hash; they fold as Envoy folds them (rotate the previous left by one, xor), and a
 * `terminal` policy that finds a hash ends the walk. Header (all values joined), cookie, source IP,
 * query parameter. A cookie policy with a ttl whose cookie is absent yields no hash here and names
 * the cookie the engine should set (`generateCookie`), as Envoy's cookie affinity does.
 */
import { combineHash, hashString } from '../lb/hash.ts';
import type { envoy } from '../xds/generated/xds-pb.js';
import { durationMs, set } from './proto.ts';
import { pathEnd, queryParam } from './request-match.ts';
import type { RouteRequest } from './types.ts';
import { RouteCompileError } from './types.ts';

const enum Kind {
  Header = 0,
  Cookie = 1,
  SourceIp = 2,
  Query = 3,
}

interface Policy {
  readonly kind: Kind;
  readonly name: string;
  readonly terminal: boolean;
}

export interface CookieToGenerate {
  readonly name: string;
  readonly ttlMs: number;
  readonly path: string;
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string, name: string): string | undefined {
  let i = 0;
  const n = header.length;
  while (i < n) {
    while (i < n && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 59 || header.charCodeAt(i) === 44)) i++;
    let semi = header.indexOf(';', i);
    if (semi < 0) semi = n;
    const eq = header.indexOf('=', i);
    if (eq > 0 && eq < semi && eq - i === name.length && header.startsWith(name, i)) {
      let v = header.slice(eq + 1, semi).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    i = semi + 1;
  }
  return undefined;
}

export class HashPolicy {
  constructor(
    readonly policies: readonly Policy[],
    /** The first cookie policy with a ttl: the cookie the engine sets when the request has none. */
    readonly generateCookie: CookieToGenerate | undefined,
  ) {}

  /** The request's hash, or undefined when no policy produced one (the balancer then picks freely). */
  hash(req: RouteRequest): number | undefined {
    let hash = 0;
    let have = false;
    const ps = this.policies;
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i]!;
      let v: string | undefined;
      switch (p.kind) {
        case Kind.Header:
          v = p.name === ':authority' || p.name === 'host' ? req.authority : p.name === ':path' ? req.target : p.name === ':method' ? req.method : req.header(p.name);
          break;
        case Kind.Cookie: {
          const c = req.header('cookie');
          v = c === undefined ? undefined : cookieValue(c, p.name);
          break;
        }
        case Kind.SourceIp:
          v = req.sourceIp;
          break;
        case Kind.Query: {
          const t = req.target;
          const end = pathEnd(t);
          if (end < t.length && t.charCodeAt(end) === 63) {
            let qEnd = t.indexOf('#', end);
            if (qEnd < 0) qEnd = t.length;
            v = queryParam(t, end + 1, qEnd, p.name);
          }
          break;
        }
      }
      if (v !== undefined) {
        const h = hashString(v);
        hash = have ? combineHash(hash, h) : h;
        have = true;
      }
      if (p.terminal && have) break;
    }
    return have ? hash : undefined;
  }
}

export function compileHashPolicy(list: readonly envoy.config.route.v3.RouteAction.HashPolicy.$Properties[] | null | undefined, path: string): HashPolicy | undefined {
  if (!list || list.length === 0) return undefined;
  const policies: Policy[] = [];
  let generate: CookieToGenerate | undefined;
  list.forEach((h, i) => {
    const p = `${path}[${i}]`;
    const terminal = h.terminal === true;
    if (set(h.header)) {
      if (!h.header.headerName) throw new RouteCompileError(`${p}.header`, 'header_name is empty');
      if (set(h.header.regexRewrite)) throw new RouteCompileError(`${p}.header.regex_rewrite`, 'not supported');
      policies.push({ kind: Kind.Header, name: h.header.headerName.toLowerCase(), terminal });
    } else if (set(h.cookie)) {
      if (!h.cookie.name) throw new RouteCompileError(`${p}.cookie`, 'name is empty');
      policies.push({ kind: Kind.Cookie, name: h.cookie.name, terminal });
      if (set(h.cookie.ttl) && !generate) generate = { name: h.cookie.name, ttlMs: durationMs(h.cookie.ttl, 0), path: h.cookie.path ?? '' };
    } else if (set(h.connectionProperties)) {
      if (h.connectionProperties.sourceIp) policies.push({ kind: Kind.SourceIp, name: '', terminal });
    } else if (set(h.queryParameter)) {
      if (!h.queryParameter.name) throw new RouteCompileError(`${p}.query_parameter`, 'name is empty');
      policies.push({ kind: Kind.Query, name: h.queryParameter.name, terminal });
    } else {
      throw new RouteCompileError(p, 'unsupported hash policy (header, cookie, connection_properties, query_parameter are)');
    }
  });
  return new HashPolicy(policies, generate);
}
