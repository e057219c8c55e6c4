/**
 * `istio.security.Authorization` (as the static protobuf module decodes it, or the same shape built
 * by hand) -> CompiledPolicy. Anything this proxy cannot evaluate is kept and marked, never
 * dropped, so the evaluator can fail closed (a dropped condition would widen an ALLOW):
 * unknown fields, extensions, string matches of an unknown kind, malformed CIDRs, and empty
 * matches (what is left of a rule whose HTTP-only attributes the control plane removed).
 * A policy whose action or scope is unknown is rejected (as ztunnel does), so the update is NACKed.
 */
import { formatIp } from '../net/ip.ts';
import type { AuthorizationProto, MatchProto, StringMatchProto } from '../xds/pb.ts';
import type { CidrMatcher, CompiledClause, CompiledMatch, CompiledPolicy, CompiledRule, PolicyAction, PolicyScope, ServiceAccountMatcher, StringMatcher } from './model.ts';

export type CompileResult = { ok: true; policy: CompiledPolicy } | { ok: false; message: string };

const SCOPES: readonly PolicyScope[] = ['GLOBAL', 'NAMESPACE', 'WORKLOAD_SELECTOR'];
const ACTIONS: readonly PolicyAction[] = ['ALLOW', 'DENY'];

export function compileAuthorization(a: AuthorizationProto): CompileResult {
  const name = a.name ?? '';
  const namespace = a.namespace ?? '';
  if (!name) return { ok: false, message: 'Authorization has no name' };
  const scope = SCOPES[a.scope ?? 0];
  if (!scope) return { ok: false, message: `Authorization ${namespace}/${name} has unknown scope ${a.scope}` };
  const action = ACTIONS[a.action ?? 0];
  if (!action) return { ok: false, message: `Authorization ${namespace}/${name} has unknown action ${a.action}` };
  const rules: CompiledRule[] = (a.rules ?? []).map((r) => {
    const clauses: CompiledClause[] = (r.clauses ?? []).map((c) =>
      hasUnknowns(c) ? [unsupportedMatch('a clause with fields this proxy does not know')] : (c.matches ?? []).map(compileMatch),
    );
    // Unknown rule-level fields: one more AND-ed condition that fails closed.
    if (hasUnknowns(r)) clauses.push([unsupportedMatch('a rule with fields this proxy does not know')]);
    return { clauses };
  });
  const policy: CompiledPolicy = { key: `${namespace}/${name}`, name, namespace, scope, action, dryRun: a.dryRun === true, rules };
  const why = hasUnknowns(a) ? 'fields this proxy does not know' : a.extensions?.length ? 'extensions this proxy does not support' : undefined;
  return { ok: true, policy: why ? { ...policy, unsupported: `the policy carries ${why}` } : policy };
}

const EMPTY: readonly never[] = Object.freeze([]);

function unsupportedMatch(why: string): CompiledMatch {
  return {
    namespaces: EMPTY, notNamespaces: EMPTY, serviceAccounts: EMPTY, notServiceAccounts: EMPTY,
    principals: EMPTY, notPrincipals: EMPTY, sourceIps: EMPTY, notSourceIps: EMPTY,
    destinationIps: EMPTY, notDestinationIps: EMPTY, destinationPorts: EMPTY, notDestinationPorts: EMPTY,
    unsupported: why,
  };
}

/** Collects problems while converting the fields of one match. */
class Problems {
  list: string[] = [];
  add(p: string): void {
    if (!this.list.includes(p)) this.list.push(p);
  }
}

function compileMatch(m: MatchProto): CompiledMatch {
  const p = new Problems();
  if (hasUnknowns(m)) p.add('fields this proxy does not know');
  if (m.extensions?.length) p.add('extensions this proxy does not support');
  const out: CompiledMatch = {
    namespaces: strings(m.namespaces, p),
    notNamespaces: strings(m.notNamespaces, p),
    serviceAccounts: serviceAccounts(m.serviceAccounts, p),
    notServiceAccounts: serviceAccounts(m.notServiceAccounts, p),
    principals: strings(m.principals, p),
    notPrincipals: strings(m.notPrincipals, p),
    sourceIps: cidrs(m.sourceIps, p),
    notSourceIps: cidrs(m.notSourceIps, p),
    destinationIps: cidrs(m.destinationIps, p),
    notDestinationIps: cidrs(m.notDestinationIps, p),
    destinationPorts: [...(m.destinationPorts ?? [])],
    notDestinationPorts: [...(m.notDestinationPorts ?? [])],
  };
  if (p.list.length === 0 && isEmptyMatch(out)) {
    p.add('no condition this proxy can evaluate (an HTTP-only attribute, which needs a waypoint?)');
  }
  return p.list.length ? { ...out, unsupported: `a match with ${p.list.join(' and ')}` } : out;
}

function isEmptyMatch(m: CompiledMatch): boolean {
  for (const v of Object.values(m)) if (Array.isArray(v) && v.length > 0) return false;
  return true;
}

function strings(list: readonly StringMatchProto[] | null | undefined, p: Problems): StringMatcher[] {
  const out: StringMatcher[] = [];
  for (const s of list ?? []) {
    if (hasUnknowns(s)) p.add('a string match of a kind this proxy does not know');
    else if (s.exact != null) out.push({ exact: s.exact });
    else if (s.prefix != null) out.push({ prefix: s.prefix });
    else if (s.suffix != null) out.push({ suffix: s.suffix });
    else if (s.presence != null) out.push({ presence: true });
    else p.add('an empty string match');
  }
  return out;
}

function serviceAccounts(list: readonly { namespace?: string | null; serviceAccount?: string | null }[] | null | undefined, p: Problems): ServiceAccountMatcher[] {
  const out: ServiceAccountMatcher[] = [];
  for (const s of list ?? []) {
    if (hasUnknowns(s) || !s.serviceAccount) p.add('a malformed service account match');
    else out.push({ namespace: s.namespace ?? '', serviceAccount: s.serviceAccount });
  }
  return out;
}

function cidrs(list: readonly { address?: Uint8Array | null; length?: number | null }[] | null | undefined, p: Problems): CidrMatcher[] {
  const out: CidrMatcher[] = [];
  for (const a of list ?? []) {
    const bytes = a.address ?? new Uint8Array(0);
    const length = a.length ?? 0;
    if (hasUnknowns(a) || (bytes.length !== 4 && bytes.length !== 16) || length > bytes.length * 8) {
      p.add('a malformed IP range');
      continue;
    }
    const address = Uint8Array.from(bytes);
    out.push({ text: `${formatIp(address)}/${length}`, address, length });
  }
  return out;
}

function hasUnknowns(o: object): boolean {
  const u = (o as { $unknowns?: unknown[] }).$unknowns;
  return Array.isArray(u) && u.length > 0;
}
