/**
 * envoy.filters.http.rbac, compiled once per config version: `rules` (ALLOW, DENY or LOG) and
 * `shadow_rules` (evaluated, never enforced: their result goes into dynamic metadata under
 * `<shadow_rules_stat_prefix>shadow_effective_policy_id` / `shadow_engine_result`, which is how
 * istiod enables ext_authz for CUSTOM policies). Envoy's semantics (source/extensions/filters/
 * common/rbac): a Policy matches when one permission and one principal match; policies are tried in
 * name order; ALLOW allows when one matches, DENY denies when one matches, LOG always allows.
 *
 * Matchers are small objects with one method (no closures per request, no JSON): header, url_path,
 * ports, CIDRs, the peer principal (`authenticated` and Istio's `io.istio.peer_principal` filter
 * state alike), and metadata (jwt_authn claims, RBAC shadow results).
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { compileHeaderMatcher, type HeaderMatch } from '../route/request-match.ts';
import { compileStringMatcher, type StringMatch } from '../route/string-matcher.ts';
import { set } from '../route/proto.ts';
import { RouteCompileError } from '../route/types.ts';
import { inCidr, ipBytes } from './match.ts';
import type { L7AuthzRequest } from './l7-request.ts';

type RbacProto = envoy.config.rbac.v3.RBAC.$Properties;
type PermissionProto = envoy.config.rbac.v3.Permission.$Properties;
type PrincipalProto = envoy.config.rbac.v3.Principal.$Properties;
type MetadataMatcherProto = envoy.type.matcher.v3.MetadataMatcher.$Properties;
type ValueMatcherProto = envoy.type.matcher.v3.ValueMatcher.$Properties;
type CidrProto = envoy.config.core.v3.CidrRange.$Properties;

export interface L7Matcher {
  matches(r: L7AuthzRequest): boolean;
}

const ANY: L7Matcher = { matches: () => true };

class And implements L7Matcher {
  constructor(readonly list: readonly L7Matcher[]) {}
  matches(r: L7AuthzRequest): boolean {
    for (const m of this.list) if (!m.matches(r)) return false;
    return true;
  }
}
class Or implements L7Matcher {
  constructor(readonly list: readonly L7Matcher[]) {}
  matches(r: L7AuthzRequest): boolean {
    for (const m of this.list) if (m.matches(r)) return true;
    return false;
  }
}
class Not implements L7Matcher {
  constructor(readonly inner: L7Matcher) {}
  matches(r: L7AuthzRequest): boolean {
    return !this.inner.matches(r);
  }
}
class Header implements L7Matcher {
  constructor(readonly h: HeaderMatch) {}
  matches(r: L7AuthzRequest): boolean {
    return this.h.matches(r.req);
  }
}
class UrlPath implements L7Matcher {
  constructor(readonly s: StringMatch) {}
  matches(r: L7AuthzRequest): boolean {
    return this.s.match(r.path());
  }
}
class DestinationPort implements L7Matcher {
  constructor(
    readonly lo: number,
    readonly hi: number,
  ) {}
  matches(r: L7AuthzRequest): boolean {
    return r.destinationPort >= this.lo && r.destinationPort < this.hi;
  }
}
const enum IpKind {
  Direct = 0,
  Remote = 1,
  Destination = 2,
}
class Cidr implements L7Matcher {
  constructor(
    readonly kind: IpKind,
    readonly address: Uint8Array,
    readonly length: number,
  ) {}
  matches(r: L7AuthzRequest): boolean {
    return inCidr(this, this.kind === IpKind.Direct ? r.directBytes() : this.kind === IpKind.Remote ? r.remoteBytes() : r.destinationBytes());
  }
}
/** `authenticated` / `io.istio.peer_principal`: the peer's URI SAN; no principal_name matches any mTLS peer. */
class Authenticated implements L7Matcher {
  constructor(readonly s: StringMatch | undefined) {}
  matches(r: L7AuthzRequest): boolean {
    const p = r.peerPrincipal;
    return p !== undefined && (this.s === undefined || this.s.match(p));
  }
}
class Sni implements L7Matcher {
  constructor(readonly s: StringMatch) {}
  matches(r: L7AuthzRequest): boolean {
    return this.s.match(r.sni ?? '');
  }
}

interface ValueMatch {
  match(v: unknown): boolean;
}
class StringValue implements ValueMatch {
  constructor(readonly s: StringMatch) {}
  match(v: unknown): boolean {
    return typeof v === 'string' && this.s.match(v);
  }
}
class ListOneOf implements ValueMatch {
  constructor(readonly one: ValueMatch) {}
  match(v: unknown): boolean {
    if (!Array.isArray(v)) return false;
    for (const x of v) if (this.one.match(x)) return true;
    return false;
  }
}
class OrValue implements ValueMatch {
  constructor(readonly list: readonly ValueMatch[]) {}
  match(v: unknown): boolean {
    for (const m of this.list) if (m.match(v)) return true;
    return false;
  }
}
class ConstValue implements ValueMatch {
  constructor(readonly f: (v: unknown) => boolean) {}
  match(v: unknown): boolean {
    return this.f(v);
  }
}
class Metadata implements L7Matcher {
  constructor(
    readonly filter: string,
    readonly path: readonly string[],
    readonly value: ValueMatch,
    readonly invert: boolean,
  ) {}
  matches(r: L7AuthzRequest): boolean {
    let v: unknown = r.metadata(this.filter);
    for (const k of this.path) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        v = undefined;
        break;
      }
      v = (v as Record<string, unknown>)[k];
    }
    return (v !== undefined && this.value.match(v)) !== this.invert;
  }
}

function valueMatcher(m: ValueMatcherProto | null | undefined, path: string): ValueMatch {
  if (!set(m)) throw new RouteCompileError(path, 'value matcher is required');
  if (set(m.stringMatch)) return new StringValue(compileStringMatcher(m.stringMatch, `${path}.string_match`));
  if (set(m.listMatch)) return new ListOneOf(valueMatcher(m.listMatch.oneOf, `${path}.list_match.one_of`));
  if (set(m.orMatch)) return new OrValue((m.orMatch.valueMatchers ?? []).map((x, i) => valueMatcher(x, `${path}.or_match.value_matchers[${i}]`)));
  if (set(m.boolMatch)) {
    const b = m.boolMatch;
    return new ConstValue((v) => v === b);
  }
  if (set(m.presentMatch)) {
    const p = m.presentMatch;
    return new ConstValue((v) => (v !== undefined && v !== null) === p);
  }
  if (set(m.nullMatch)) return new ConstValue((v) => v === null);
  if (set(m.doubleMatch)) {
    const d = m.doubleMatch;
    return new ConstValue((v) => typeof v === 'number' && (set(d.exact) ? v === d.exact : set(d.range) ? v >= Number(d.range.start ?? 0) && v < Number(d.range.end ?? 0) : false));
  }
  throw new RouteCompileError(path, 'unsupported value matcher');
}

function metadataMatcher(m: MetadataMatcherProto, path: string): L7Matcher {
  const keys = (m.path ?? []).map((s, i) => {
    if (!set(s.key)) throw new RouteCompileError(`${path}.path[${i}]`, 'only key path segments are supported');
    return s.key;
  });
  return new Metadata(m.filter ?? '', keys, valueMatcher(m.value, `${path}.value`), m.invert === true);
}

function cidr(kind: IpKind, c: CidrProto, path: string): L7Matcher {
  const address = ipBytes(c.addressPrefix ?? '');
  if (!address) throw new RouteCompileError(path, `invalid address_prefix ${JSON.stringify(c.addressPrefix)}`);
  let length = set(c.prefixLen) ? Number(c.prefixLen.value ?? 0) : address.length * 8;
  // An IPv4-mapped IPv6 prefix (`::ffff:a.b.c.d/128`) is read as the IPv4 one (ipBytes maps peers the same way).
  if (address.length === 4 && (c.addressPrefix ?? '').includes(':')) length = Math.max(0, length - 96);
  if (length > address.length * 8) throw new RouteCompileError(path, `prefix_len ${length} is too long`);
  return new Cidr(kind, address, length);
}

export function compilePermission(p: PermissionProto, path: string): L7Matcher {
  if (set(p.any)) return p.any ? ANY : new Not(ANY);
  if (set(p.andRules)) return new And((p.andRules.rules ?? []).map((x, i) => compilePermission(x, `${path}.and_rules.rules[${i}]`)));
  if (set(p.orRules)) return new Or((p.orRules.rules ?? []).map((x, i) => compilePermission(x, `${path}.or_rules.rules[${i}]`)));
  if (set(p.notRule)) return new Not(compilePermission(p.notRule, `${path}.not_rule`));
  if (set(p.header)) return new Header(compileHeaderMatcher(p.header, `${path}.header`));
  if (set(p.urlPath)) {
    if (!set(p.urlPath.path)) throw new RouteCompileError(`${path}.url_path`, 'path is required');
    return new UrlPath(compileStringMatcher(p.urlPath.path, `${path}.url_path.path`));
  }
  if (set(p.destinationPort)) return new DestinationPort(p.destinationPort, p.destinationPort + 1);
  if (set(p.destinationPortRange)) return new DestinationPort(Number(p.destinationPortRange.start ?? 0), Number(p.destinationPortRange.end ?? 0));
  if (set(p.destinationIp)) return cidr(IpKind.Destination, p.destinationIp, `${path}.destination_ip`);
  if (set(p.metadata)) return metadataMatcher(p.metadata, `${path}.metadata`);
  if (set(p.requestedServerName)) return new Sni(compileStringMatcher(p.requestedServerName, `${path}.requested_server_name`));
  throw new RouteCompileError(path, 'unsupported permission rule');
}

export function compilePrincipal(p: PrincipalProto, path: string): L7Matcher {
  if (set(p.any)) return p.any ? ANY : new Not(ANY);
  if (set(p.andIds)) return new And((p.andIds.ids ?? []).map((x, i) => compilePrincipal(x, `${path}.and_ids.ids[${i}]`)));
  if (set(p.orIds)) return new Or((p.orIds.ids ?? []).map((x, i) => compilePrincipal(x, `${path}.or_ids.ids[${i}]`)));
  if (set(p.notId)) return new Not(compilePrincipal(p.notId, `${path}.not_id`));
  if (set(p.authenticated)) return new Authenticated(set(p.authenticated.principalName) ? compileStringMatcher(p.authenticated.principalName, `${path}.authenticated.principal_name`) : undefined);
  if (set(p.filterState)) {
    if (p.filterState.key !== 'io.istio.peer_principal' || !set(p.filterState.stringMatch)) throw new RouteCompileError(`${path}.filter_state`, `only io.istio.peer_principal string matches are supported (found ${p.filterState.key})`);
    return new Authenticated(compileStringMatcher(p.filterState.stringMatch, `${path}.filter_state.string_match`));
  }
  if (set(p.directRemoteIp)) return cidr(IpKind.Direct, p.directRemoteIp, `${path}.direct_remote_ip`);
  if (set(p.sourceIp)) return cidr(IpKind.Direct, p.sourceIp, `${path}.source_ip`);
  if (set(p.remoteIp)) return cidr(IpKind.Remote, p.remoteIp, `${path}.remote_ip`);
  if (set(p.header)) return new Header(compileHeaderMatcher(p.header, `${path}.header`));
  if (set(p.urlPath)) {
    if (!set(p.urlPath.path)) throw new RouteCompileError(`${path}.url_path`, 'path is required');
    return new UrlPath(compileStringMatcher(p.urlPath.path, `${path}.url_path.path`));
  }
  if (set(p.metadata)) return metadataMatcher(p.metadata, `${path}.metadata`);
  throw new RouteCompileError(path, 'unsupported principal');
}

export class RbacPolicyMatcher {
  constructor(
    readonly name: string,
    readonly permissions: readonly L7Matcher[],
    readonly principals: readonly L7Matcher[],
  ) {}
  matches(r: L7AuthzRequest): boolean {
    let ok = false;
    for (const p of this.permissions) if (p.matches(r)) { ok = true; break; } // prettier-ignore
    if (!ok) return false;
    for (const p of this.principals) if (p.matches(r)) return true;
    return false;
  }
}

export const enum RbacAction {
  Allow = 0,
  Deny = 1,
  Log = 2,
}

export class RbacEngine {
  constructor(
    readonly action: RbacAction,
    readonly policies: readonly RbacPolicyMatcher[],
  ) {}
  /** The first matching policy's name (name order), or undefined. */
  firstMatch(r: L7AuthzRequest): string | undefined {
    for (const p of this.policies) if (p.matches(r)) return p.name;
    return undefined;
  }
}

export function compileRbacEngine(rules: RbacProto, path: string): RbacEngine {
  const action = (rules.action ?? 0) as RbacAction;
  if (action !== RbacAction.Allow && action !== RbacAction.Deny && action !== RbacAction.Log) throw new RouteCompileError(`${path}.action`, `unknown action ${action}`);
  const names = Object.keys(rules.policies ?? {}).sort();
  const policies = names.map((name) => {
    const p = rules.policies![name]!;
    const pp = `${path}.policies[${JSON.stringify(name)}]`;
    if (set(p.condition) || set(p.checkedCondition)) throw new RouteCompileError(pp, 'CEL conditions are not supported');
    return new RbacPolicyMatcher(
      name,
      (p.permissions ?? []).map((x, i) => compilePermission(x, `${pp}.permissions[${i}]`)),
      (p.principals ?? []).map((x, i) => compilePrincipal(x, `${pp}.principals[${i}]`)),
    );
  });
  return new RbacEngine(action, policies);
}

/** The result of one RBAC filter: allowed, or denied by a policy (for the access log). */
export interface RbacDecision {
  allowed: boolean;
  /** The policy that decided (DENY match), or undefined (ALLOW without a match: default deny). */
  policy: string | undefined;
}

/** One envoy.filters.http.rbac filter. */
export class RbacFilter {
  constructor(
    readonly rules: RbacEngine | undefined,
    readonly shadow: RbacEngine | undefined,
    readonly shadowPrefix: string,
  ) {}

  /** Evaluates shadow rules into metadata, then enforces `rules`. Returns null when allowed (no allocation). */
  check(r: L7AuthzRequest): RbacDecision | null {
    const sh = this.shadow;
    if (sh !== undefined) {
      const id = sh.firstMatch(r);
      const md = (r.rbacMetadata ??= {});
      const allowed = sh.action === RbacAction.Allow ? id !== undefined : sh.action === RbacAction.Deny ? id === undefined : true;
      if (id !== undefined) md[`${this.shadowPrefix}shadow_effective_policy_id`] = id;
      md[`${this.shadowPrefix}shadow_engine_result`] = allowed ? 'allowed' : 'denied';
    }
    const rules = this.rules;
    if (rules === undefined) return null;
    const id = rules.firstMatch(r);
    switch (rules.action) {
      case RbacAction.Allow:
        return id !== undefined ? null : { allowed: false, policy: undefined };
      case RbacAction.Deny:
        return id === undefined ? null : { allowed: false, policy: id };
      case RbacAction.Log:
        if (id !== undefined) (r.rbacMetadata ??= {}).access_log_hint = true;
        return null;
    }
  }
}

export function compileRbacFilter(cfg: envoy.extensions.filters.http.rbac.v3.RBAC.$Properties, path: string): RbacFilter {
  const rules = set(cfg.rules) ? compileRbacEngine(cfg.rules, `${path}.rules`) : undefined;
  const shadow = set(cfg.shadowRules) ? compileRbacEngine(cfg.shadowRules, `${path}.shadow_rules`) : undefined;
  return new RbacFilter(rules, shadow, cfg.shadowRulesStatPrefix ?? '');
}
