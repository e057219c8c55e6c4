/**
 * AuthorizationPolicy rules -> envoy.config.rbac.v3 Policies, as istiod generates them for HTTP filter
 * chains (pilot/pkg/security/authz/model: model.go, generator.go, matcher/*): per rule, one
 * Permission per `to` (AND of its fields, each an OR of its values; `not*` values a NOT of that OR)
 * and one Principal per `from` (the same shape), `when` conditions appended to every one of them.
 * Values use Istio's wildcard forms (`*` presence, `x*` prefix, `*x` suffix, else exact).
 *
 * Where istiod errs on a value, an ALLOW rule is skipped and a DENY/AUDIT rule drops that value
 * (istiod's checkError); the caller turns the error into a warning.
 * Difference from istiod (same semantics): a path template (`{*}`, `{**}`) is written as a
 * `url_path` safe_regex instead of the `uri_template` extension.
 */
import type { envoy } from '../pb.ts';
import type { AuthorizationRuleSpec } from '../authorization.ts';
import { parseCidr } from '../../net/ip.ts';

export type PermissionProto = envoy.config.rbac.v3.Permission.$Properties;
export type PrincipalProto = envoy.config.rbac.v3.Principal.$Properties;
export type PolicyProto = envoy.config.rbac.v3.Policy.$Properties;
type StringMatcherProto = envoy.type.matcher.v3.StringMatcher.$Properties;
type ValueMatcherProto = envoy.type.matcher.v3.ValueMatcher.$Properties;
type MetadataMatcherProto = envoy.type.matcher.v3.MetadataMatcher.$Properties;
type HeaderMatcherProto = envoy.config.route.v3.HeaderMatcher.$Properties;

export const JWT_FILTER = 'envoy.filters.http.jwt_authn';
export const JWT_PAYLOAD = 'payload';

/** Never matches: the policy of an AuthorizationPolicy without rules (istiod's rbacPolicyMatchNever). */
export const MATCH_NEVER: PolicyProto = { permissions: [{ notRule: { any: true } }], principals: [{ notId: { any: true } }] };

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

class RuleError extends Error {}

// ---- string matchers (matcher/string.go) ----

const exact = (v: string, ignoreCase = false): StringMatcherProto => ({ exact: v, ...(ignoreCase ? { ignoreCase } : {}) });
const prefix = (v: string, ignoreCase = false): StringMatcherProto => ({ prefix: v, ...(ignoreCase ? { ignoreCase } : {}) });
const suffix = (v: string, ignoreCase = false): StringMatcherProto => ({ suffix: v, ...(ignoreCase ? { ignoreCase } : {}) });
const regex = (r: string): StringMatcherProto => ({ safeRegex: { regex: r } });
const MATCH_ANY = regex('.+');

/** RE2 quoting as Go's regexp.QuoteMeta. */
function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

export function stringMatcherWithPrefix(v: string, pre = ''): StringMatcherProto {
  if (v === '*') return MATCH_ANY;
  if (v.startsWith('*')) return pre === '' ? suffix(v.slice(1)) : regex(`${pre}.*${quoteMeta(v.slice(1))}`);
  if (v.endsWith('*')) return prefix(pre + v.slice(0, -1));
  return exact(pre + v);
}

function headerMatcher(name: string, v: string, ignoreCase = false): HeaderMatcherProto {
  if (v === '*') return { name, presentMatch: true };
  if (v.startsWith('*')) return { name, stringMatch: suffix(v.slice(1), ignoreCase) };
  if (v.endsWith('*')) return { name, stringMatch: prefix(v.slice(0, -1), ignoreCase) };
  return { name, stringMatch: exact(v, ignoreCase) };
}

function orValues(values: readonly string[]): ValueMatcherProto {
  const ms = values.map((v) => ({ stringMatch: stringMatcherWithPrefix(v) }));
  return ms.length === 1 ? ms[0]! : { orMatch: { valueMatchers: ms } };
}

/** A JWT claim path under the jwt_authn payload; a list claim matches when one element does (useExtendedJwt). */
function claimMatcher(claims: readonly string[], value: ValueMatcherProto): MetadataMatcherProto {
  return {
    filter: JWT_FILTER,
    path: [JWT_PAYLOAD, ...claims].map((key) => ({ key })),
    value: { orMatch: { valueMatchers: [{ listMatch: { oneOf: value } }, value] } },
  };
}

function claimStringMatcher(claim: string, m: StringMatcherProto): MetadataMatcherProto {
  return { filter: JWT_FILTER, path: [{ key: JWT_PAYLOAD }, { key: claim }], value: { stringMatch: m } };
}

// ---- path templates (Istio's `{*}` / `{**}`), as an equivalent regex ----

export function containsPathTemplate(v: string): boolean {
  return v.includes('{*}') || v.includes('{**}');
}

function templateRegex(v: string): string {
  return v
    .split(/(\{\*\*\}|\{\*\})/)
    .map((part) => (part === '{**}' ? '.*' : part === '{*}' ? '[^/]+' : quoteMeta(part)))
    .join('');
}

// ---- generators (generator.go), HTTP only ----

interface Gen {
  permission?(key: string, value: string): PermissionProto;
  principal?(key: string, value: string): PrincipalProto;
  /** Extended: all values at once. */
  extended?: boolean;
  permissions?(key: string, values: readonly string[]): PermissionProto;
  principals?(key: string, values: readonly string[]): PrincipalProto;
}

function cidr(value: string): envoy.config.core.v3.CidrRange.$Properties {
  const c = parseCidr(value);
  if (!c) throw new RuleError(`invalid IP address or CIDR ${JSON.stringify(value)}`);
  const slash = value.indexOf('/');
  return { addressPrefix: slash < 0 ? value : value.slice(0, slash), prefixLen: { value: c.length } };
}

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new RuleError(`invalid port ${value}`);
  return Number(value);
}

/** Source identities: `authenticated` on gateways and sidecars, the peer principal filter state on waypoints (istiod's UseFilterState). */
function authenticated(m: StringMatcherProto, useAuthenticated: boolean): PrincipalProto {
  return useAuthenticated ? { authenticated: { principalName: m } } : { filterState: { key: 'io.istio.peer_principal', stringMatch: m } };
}

function requestPrincipals(values: readonly string[]): PrincipalProto {
  const or: PrincipalProto[] = [];
  for (const value of values) {
    const idx = value.lastIndexOf('/');
    const found = idx >= 0;
    const iss = found ? value.slice(0, idx) : value;
    const sub = found ? value.slice(idx + 1) : '';
    let mi: StringMatcherProto;
    let ms: StringMatcherProto;
    if (value === '*') [mi, ms] = [MATCH_ANY, MATCH_ANY];
    else if (value.startsWith('*')) [mi, ms] = found ? [iss === '*' ? MATCH_ANY : suffix(iss.slice(1)), exact(sub)] : [MATCH_ANY, suffix(value.slice(1))];
    else if (value.endsWith('*')) [mi, ms] = found ? [exact(iss), sub === '*' ? MATCH_ANY : prefix(sub.slice(0, -1))] : [prefix(value.slice(0, -1)), MATCH_ANY];
    else [mi, ms] = [exact(iss), exact(sub)];
    or.push({ andIds: { ids: [{ metadata: claimStringMatcher('iss', mi) }, { metadata: claimStringMatcher('sub', ms) }] } });
  }
  return or.length === 1 ? or[0]! : { orIds: { ids: or } };
}

/** `[a][b]` -> [a, b]; `[a.b]` -> [a.b] (istiod's extractNameInNestedBrackets). */
export function bracketNames(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] !== '[') break;
    const end = s.indexOf(']', i + 1);
    const inner = end < 0 ? -1 : s.indexOf('[', i + 1);
    if (end < 0 || (inner >= 0 && inner < end)) break;
    out.push(s.slice(i + 1, end));
    i = end + 1;
  }
  if (i === s.length && out.length > 0) return out;
  if (s.startsWith('[') && s.endsWith(']')) return [s.slice(1, -1)];
  throw new RuleError(`expecting format [<NAME>], but found ${s}`);
}

function generators(policyNamespace: string, useAuthenticated: boolean): Record<string, Gen> {
  return {
    'destination.ip': { permission: (_k, v) => ({ destinationIp: cidr(v) }) },
    'destination.port': { permission: (_k, v) => ({ destinationPort: port(v) }) },
    'connection.sni': { permission: (_k, v) => ({ requestedServerName: stringMatcherWithPrefix(v) }) },
    'source.ip': { principal: (_k, v) => ({ directRemoteIp: cidr(v) }) },
    'remote.ip': { principal: (_k, v) => ({ remoteIp: cidr(v) }) },
    'source.namespace': { principal: (_k, v) => authenticated(regex(`.*/ns/${v.replaceAll('*', '.*')}/.*`), useAuthenticated) },
    'source.serviceAccount': {
      principal: (_k, v) => {
        const slash = v.indexOf('/');
        const [ns, sa] = slash < 0 ? [policyNamespace, v] : [v.slice(0, slash), v.slice(slash + 1)];
        return authenticated(regex(`spiffe://.+/ns/${ns}/(.+/|)sa/${sa}(/.+)?`), useAuthenticated);
      },
    },
    'source.principal': { principal: (_k, v) => authenticated(stringMatcherWithPrefix(v, 'spiffe://'), useAuthenticated) },
    'request.auth.principal': { extended: true, principals: (_k, vs) => requestPrincipals(vs) },
    'request.auth.audiences': { extended: true, principals: (_k, vs) => ({ metadata: claimMatcher(['aud'], orValues(vs)) }) },
    'request.auth.presenter': { extended: true, principals: (_k, vs) => ({ metadata: claimMatcher(['azp'], orValues(vs)) }) },
    'request.headers': { principal: (k, v) => ({ header: headerMatcher(bracketNames(k.slice('request.headers'.length))[0]!, v) }) },
    'request.auth.claims': { extended: true, principals: (k, vs) => ({ metadata: claimMatcher(bracketNames(k.slice('request.auth.claims'.length)), orValues(vs)) }) },
    ':authority': { permission: (_k, v) => ({ header: headerMatcher(':authority', v, true) }) },
    ':method': { permission: (_k, v) => ({ header: headerMatcher(':method', v) }) },
    'path-matcher': {
      permission: (_k, v) => ({ urlPath: { path: containsPathTemplate(v) ? regex(templateRegex(v)) : stringMatcherWithPrefix(v) } }),
    },
  };
}

interface Rule {
  key: string;
  values: readonly string[];
  notValues: readonly string[];
  gen: Gen;
}

function genFor(gens: Record<string, Gen>, key: string): Gen | undefined {
  if (key.startsWith('request.headers[')) return gens['request.headers'];
  if (key.startsWith('request.auth.claims[')) return gens['request.auth.claims'];
  return gens[key];
}

function build<T>(rules: readonly Rule[], kind: 'permission' | 'principal', action: RbacAction, errors: string[]): T {
  const and: unknown[] = [];
  const check = (e: unknown) => {
    if (!(e instanceof RuleError)) throw e;
    if (action === 'ALLOW') throw e;
    errors.push(e.message);
  };
  const or = (xs: unknown[]) => (kind === 'permission' ? { orRules: { rules: xs } } : { orIds: { ids: xs } });
  const not = (x: unknown) => (kind === 'permission' ? { notRule: x } : { notId: x });
  for (const r of rules) {
    for (const [values, negate] of [[r.values, false], [r.notValues, true]] as const) {
      if (values.length === 0) continue;
      if (r.gen.extended) {
        try {
          const p = kind === 'permission' ? r.gen.permissions?.(r.key, values) : r.gen.principals?.(r.key, values);
          if (!p) throw new RuleError(`${r.key} is not a ${kind} attribute`);
          and.push(negate ? not(p) : p);
        } catch (e) {
          check(e);
        }
        continue;
      }
      const xs: unknown[] = [];
      for (const v of values) {
        try {
          const f = kind === 'permission' ? r.gen.permission : r.gen.principal;
          if (!f) throw new RuleError(`${r.key} is not a ${kind} attribute`);
          xs.push(f(r.key, v));
        } catch (e) {
          check(e);
        }
      }
      if (xs.length) and.push(negate ? not(or(xs)) : or(xs));
    }
  }
  if (and.length === 0) and.push({ any: true });
  return (kind === 'permission' ? { andRules: { rules: and } } : { andIds: { ids: and } }) as T;
}

/**
 * One rule -> a Policy, or an error (the rule is skipped, as istiod skips it). `errors` collects the
 * values a DENY or AUDIT rule dropped.
 */
export function rulePolicy(rule: AuthorizationRuleSpec, policyNamespace: string, action: RbacAction, useAuthenticated: boolean, errors: string[]): PolicyProto | { error: string } {
  const gens = generators(policyNamespace, useAuthenticated);
  try {
    const basePermission: Rule[] = [];
    const basePrincipal: Rule[] = [];
    for (const when of rule.when ?? []) {
      const gen = genFor(gens, when.key);
      if (!gen) return { error: `unknown attribute ${when.key}` };
      const r: Rule = { key: when.key, values: when.values ?? [], notValues: when.notValues ?? [], gen };
      if (gen.permission || gen.permissions) basePermission.push(r);
      else basePrincipal.push(r);
    }
    const front = (list: Rule[], key: string, values: readonly string[] | null | undefined, notValues: readonly string[] | null | undefined) => {
      if (!values?.length && !notValues?.length) return;
      list.unshift({ key, values: values ?? [], notValues: notValues ?? [], gen: gens[key]! });
    };
    const principals: PrincipalProto[] = [];
    for (const { source: s } of rule.from ?? []) {
      const merged = [...basePrincipal];
      if (s) {
        front(merged, 'source.ip', s.ipBlocks, s.notIpBlocks);
        front(merged, 'remote.ip', s.remoteIpBlocks, s.notRemoteIpBlocks);
        front(merged, 'source.namespace', s.namespaces, s.notNamespaces);
        front(merged, 'source.serviceAccount', s.serviceAccounts, s.notServiceAccounts);
        front(merged, 'request.auth.principal', s.requestPrincipals, s.notRequestPrincipals);
        front(merged, 'source.principal', s.principals, s.notPrincipals);
      }
      principals.push(build(merged, 'principal', action, errors));
    }
    if (!rule.from?.length) principals.push(build(basePrincipal, 'principal', action, errors));
    const permissions: PermissionProto[] = [];
    for (const { operation: o } of rule.to ?? []) {
      const merged = [...basePermission];
      if (o) {
        front(merged, 'destination.port', o.ports, o.notPorts);
        front(merged, 'path-matcher', o.paths, o.notPaths);
        front(merged, ':method', o.methods, o.notMethods);
        front(merged, ':authority', o.hosts, o.notHosts);
      }
      permissions.push(build(merged, 'permission', action, errors));
    }
    if (!rule.to?.length) permissions.push(build(basePermission, 'permission', action, errors));
    return { permissions, principals };
  } catch (e) {
    if (e instanceof RuleError) return { error: e.message };
    throw e;
  }
}
