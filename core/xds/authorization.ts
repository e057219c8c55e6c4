/**
 * Istio AuthorizationPolicy -> istio.security.Authorization, the L4 form node proxies enforce, as
 * istiod's ambient index converts it (pilot/pkg/serviceregistry/kube/controller/ambient/
 * authorization.go): scope from the selector and the root namespace, one Rule per policy rule with
 * a clause each for `to`, `from` and every `when`, HTTP-only attributes dropped with a warning (an
 * ALLOW rule using them is left out, a DENY rule keeps its L4 part: both err on the restrictive side).
 */
import { parseCidr } from '../net/ip.ts';
import { istio } from './pb.ts';
import type { AuthorizationProto, MatchProto, StringMatchProto } from './pb.ts';

/** The fields of a validated AuthorizationPolicy spec this translation reads (Istio's names). */
export interface AuthorizationPolicySpec {
  selector?: { matchLabels?: Readonly<Record<string, string>> } | null;
  targetRef?: unknown;
  targetRefs?: readonly unknown[];
  action?: string;
  rules?: readonly AuthorizationRuleSpec[] | null;
}

export interface AuthorizationRuleSpec {
  from?: readonly { source?: SourceSpec }[] | null;
  to?: readonly { operation?: OperationSpec }[] | null;
  when?: readonly { key: string; values?: readonly string[]; notValues?: readonly string[] }[] | null;
}

type Strings = readonly string[] | null | undefined;

export interface SourceSpec {
  principals?: Strings;
  notPrincipals?: Strings;
  requestPrincipals?: Strings;
  notRequestPrincipals?: Strings;
  namespaces?: Strings;
  notNamespaces?: Strings;
  serviceAccounts?: Strings;
  notServiceAccounts?: Strings;
  ipBlocks?: Strings;
  notIpBlocks?: Strings;
  remoteIpBlocks?: Strings;
  notRemoteIpBlocks?: Strings;
}

export interface OperationSpec {
  hosts?: Strings;
  notHosts?: Strings;
  ports?: Strings;
  notPorts?: Strings;
  methods?: Strings;
  notMethods?: Strings;
  paths?: Strings;
  notPaths?: Strings;
}

export interface AuthorizationTranslation {
  /** Undefined when node proxies do not enforce this policy (targetRef policies, CUSTOM). AUDIT: a dry-run DENY. */
  authorization?: AuthorizationProto;
  /** True when the policy applies by label selector (listed in Workload.authorization_policies). */
  selected: boolean;
  /** Why the policy was skipped or narrowed, in words for `weft analyze` and status. */
  warning?: string;
}

/** `when` keys a node proxy can evaluate; anything else is an HTTP attribute. */
const L4_WHEN_KEYS = new Set(['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port']);

const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
const HTTP_SOURCE_FIELDS = ['remoteIpBlocks', 'notRemoteIpBlocks', 'requestPrincipals', 'notRequestPrincipals'] as const;

export function translateAuthorizationPolicy(namespace: string, name: string, spec: AuthorizationPolicySpec, rootNamespace: string): AuthorizationTranslation {
  if (spec.targetRef || (spec.targetRefs && spec.targetRefs.length > 0)) {
    // Bound to a waypoint or gateway: enforced at L7 there, never by node proxies.
    return { selected: false };
  }
  const selected = spec.selector != null;
  const scope = selected ? istio.security.Scope.WORKLOAD_SELECTOR : namespace === rootNamespace ? istio.security.Scope.GLOBAL : istio.security.Scope.NAMESPACE;
  const actionName = spec.action ?? 'ALLOW';
  let action: istio.security.Action;
  let dryRun = false;
  switch (actionName) {
    case 'ALLOW':
      action = istio.security.Action.ALLOW;
      break;
    case 'DENY':
      action = istio.security.Action.DENY;
      break;
    case 'AUDIT':
      // Istio's AUDIT reports matches and never decides: ztunnel's form of that is a dry-run DENY.
      action = istio.security.Action.DENY;
      dryRun = true;
      break;
    default:
      return { selected, warning: `node proxies do not support the ${actionName} action; the policy is not enforced at L4` };
  }
  const http = new Set<string>();
  const rules: istio.security.Rule.$Properties[] = [];
  for (const rule of spec.rules ?? []) {
    const found: string[] = [];
    const clauses = ruleClauses(rule, namespace, found);
    for (const f of found) http.add(f);
    // An ALLOW rule that needs HTTP attributes can never match at L4; a DENY rule keeps its L4 part.
    if (action === istio.security.Action.ALLOW && found.length > 0) continue;
    rules.push({ clauses });
  }
  const authorization: AuthorizationProto = dryRun ? { name, namespace, scope, action, rules, dryRun } : { name, namespace, scope, action, rules };
  if (http.size === 0) return { authorization, selected };
  const list = [...http].sort().join(', ');
  const effect = dryRun
    ? 'the AUDIT rules are evaluated without them, so they report more connections than requested'
    : action === istio.security.Action.ALLOW
      ? 'ALLOW rules that use them are left out, which is more restrictive than requested'
      : 'the DENY rules are enforced without them, which is more restrictive than requested';
  return { authorization, selected, warning: `node proxies do not evaluate HTTP attributes (found: ${list}); ${effect}; use a waypoint to enforce HTTP rules` };
}

function ruleClauses(rule: AuthorizationRuleSpec, ruleNamespace: string, http: string[]): istio.security.Clause.$Properties[] {
  const clauses: istio.security.Clause.$Properties[] = [];
  const to = (rule.to ?? []).map(({ operation: op = {} }) => {
    for (const f of HTTP_OPERATION_FIELDS) if (op[f]?.length) http.push(f);
    return compact({ destinationPorts: ports(op.ports), notDestinationPorts: ports(op.notPorts) });
  });
  if (to.length) clauses.push({ matches: to });
  const from = (rule.from ?? []).map(({ source: s = {} }) => {
    for (const f of HTTP_SOURCE_FIELDS) if (s[f]?.length) http.push(f);
    return compact({
      sourceIps: cidrs(s.ipBlocks),
      notSourceIps: cidrs(s.notIpBlocks),
      namespaces: stringMatches(s.namespaces),
      notNamespaces: stringMatches(s.notNamespaces),
      serviceAccounts: serviceAccounts(s.serviceAccounts, ruleNamespace),
      notServiceAccounts: serviceAccounts(s.notServiceAccounts, ruleNamespace),
      principals: stringMatches(s.principals),
      notPrincipals: stringMatches(s.notPrincipals),
    });
  });
  if (from.length) clauses.push({ matches: from });
  for (const when of rule.when ?? []) {
    if (!L4_WHEN_KEYS.has(when.key)) http.push(when.key);
    const pick = <T>(key: string, values: Strings, f: (v: Strings) => T[]): T[] => (when.key === key ? f(values) : []);
    clauses.push({
      matches: [
        compact({
          namespaces: pick('source.namespace', when.values, stringMatches),
          principals: pick('source.principal', when.values, stringMatches),
          sourceIps: pick('source.ip', when.values, cidrs),
          destinationIps: pick('destination.ip', when.values, cidrs),
          destinationPorts: pick('destination.port', when.values, ports),
          notNamespaces: pick('source.namespace', when.notValues, stringMatches),
          notPrincipals: pick('source.principal', when.notValues, stringMatches),
          notSourceIps: pick('source.ip', when.notValues, cidrs),
          notDestinationIps: pick('destination.ip', when.notValues, cidrs),
          notDestinationPorts: pick('destination.port', when.notValues, ports),
        }),
      ],
    });
  }
  return clauses;
}

/** Drops empty lists so encoded matches stay minimal (and equal specs encode equally). */
function compact(match: MatchProto): MatchProto {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(match)) if (Array.isArray(v) && v.length) out[k] = v;
  return out as MatchProto;
}

/** Istio's wildcard forms: `*` any value, `*x` suffix, `x*` prefix, else exact. */
export function stringMatches(values: Strings): StringMatchProto[] {
  return (values ?? []).map((v) => {
    if (v === '*') return { presence: {} };
    if (v.startsWith('*')) return { suffix: v.slice(1) };
    if (v.endsWith('*')) return { prefix: v.slice(0, -1) };
    return { exact: v };
  });
}

/** `ns/sa`, or a bare `sa` meaning the policy's own namespace. */
function serviceAccounts(values: Strings, ruleNamespace: string): istio.security.ServiceAccountMatch.$Properties[] {
  return (values ?? []).map((v) => {
    const slash = v.indexOf('/');
    return slash < 0 ? { namespace: ruleNamespace, serviceAccount: v } : { namespace: v.slice(0, slash), serviceAccount: v.slice(slash + 1) };
  });
}

/** Port numbers; entries that are not 0..65535 are skipped, as istiod does (validation reports them). */
function ports(values: Strings): number[] {
  const out: number[] = [];
  for (const v of values ?? []) if (/^\d{1,5}$/.test(v) && Number(v) <= 65535) out.push(Number(v));
  return out;
}

function cidrs(values: Strings): istio.security.Address.$Properties[] {
  const out: istio.security.Address.$Properties[] = [];
  for (const v of values ?? []) {
    const c = parseCidr(v);
    if (c) out.push({ address: c.address, length: c.length });
  }
  return out;
}

/** Whether a policy's selector picks a workload with these labels (every matchLabel equal). */
export function selectorMatches(selector: AuthorizationPolicySpec['selector'], labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (labels[k] !== v) return false;
  return true;
}
