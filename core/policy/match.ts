/**
 * Whether one compiled policy matches one connection, with ztunnel's semantics (src/rbac.rs):
 * no rules never match; rules OR-ed; clauses AND-ed, an empty clause matches; matches OR-ed;
 * within a match each field pair (positive OR-ed, negative none) must hold. Principals are compared
 * without `spiffe://`, and a connection without an identity has the empty principal and namespace
 * (so `notPrincipals: [*]` matches exactly the plaintext connections: how STRICT mTLS is enforced).
 *
 * Fail-closed: a match or policy marked `unsupported` counts as matching in a DENY policy and as
 * not matching in an ALLOW policy.
 */
import { parseIp } from '../net/ip.ts';
import type { CidrMatcher, CompiledMatch, CompiledPolicy, ServiceAccountMatcher, StringMatcher } from './model.ts';

/** A connection in the form matching needs, built once per evaluation (see connectionFacts). */
export interface ConnectionFacts {
  sourceIp?: Uint8Array;
  destinationIp?: Uint8Array;
  destinationPort: number;
  /** Identity without `spiffe://`; '' when there is none. */
  principal: string;
  namespace: string;
  serviceAccount: string;
  hasIdentity: boolean;
}

export interface PolicyMatch {
  matched: boolean;
  /** Index of the rule that matched. */
  rule?: number;
  /** Set when the match came from a condition that failed closed. */
  unsupported?: string;
}

export function connectionFacts(c: { sourceIp: string; destinationIp: string; destinationPort: number; identity?: string }): ConnectionFacts {
  const id = c.identity?.startsWith('spiffe://') ? c.identity.slice('spiffe://'.length) : undefined;
  // ztunnel's Identity is always td/ns/<ns>/sa/<sa>; anything else leaves namespace and account empty.
  const parts = id?.split('/') ?? [];
  const workloadForm = parts.length === 5 && parts[1] === 'ns' && parts[3] === 'sa';
  return {
    sourceIp: ipBytes(c.sourceIp),
    destinationIp: ipBytes(c.destinationIp),
    destinationPort: c.destinationPort,
    principal: id ?? '',
    namespace: workloadForm ? parts[2]! : '',
    serviceAccount: workloadForm ? parts[4]! : '',
    hasIdentity: id !== undefined,
  };
}

export function matchPolicy(policy: CompiledPolicy, conn: ConnectionFacts): PolicyMatch {
  const failClosed = policy.action === 'DENY';
  if (policy.unsupported) return failClosed ? { matched: true, unsupported: policy.unsupported } : { matched: false };
  for (let i = 0; i < policy.rules.length; i++) {
    let ruleMatch = true;
    let unsupported: string | undefined;
    for (const clause of policy.rules[i]!.clauses) {
      let clauseMatch = clause.length === 0;
      for (const m of clause) {
        if (m.unsupported) {
          if (failClosed) {
            clauseMatch = true;
            unsupported ??= m.unsupported;
            break;
          }
          continue;
        }
        if (matchOne(m, conn)) {
          clauseMatch = true;
          break;
        }
      }
      if (!clauseMatch) {
        ruleMatch = false;
        break;
      }
    }
    if (ruleMatch) return unsupported ? { matched: true, rule: i, unsupported } : { matched: true, rule: i };
  }
  return { matched: false };
}

function matchOne(m: CompiledMatch, c: ConnectionFacts): boolean {
  return (
    pair(m.destinationIps, m.notDestinationIps, (r) => inCidr(r, c.destinationIp)) &&
    pair(m.sourceIps, m.notSourceIps, (r) => inCidr(r, c.sourceIp)) &&
    pair(m.destinationPorts, m.notDestinationPorts, (p) => p === c.destinationPort) &&
    pair(m.serviceAccounts, m.notServiceAccounts, (s) => serviceAccountMatches(s, c)) &&
    pair(m.principals, m.notPrincipals, (s) => c.hasIdentity && stringMatches(s, c.principal)) &&
    pair(m.namespaces, m.notNamespaces, (s) => stringMatches(s, c.namespace))
  );
}

function pair<T>(positive: readonly T[], negative: readonly T[], pred: (v: T) => boolean): boolean {
  if (positive.length > 0 && !positive.some(pred)) return false;
  return negative.length === 0 || !negative.some(pred);
}

export function stringMatches(m: StringMatcher, value: string): boolean {
  if ('exact' in m) return value === m.exact;
  if ('prefix' in m) return value.startsWith(m.prefix);
  if ('suffix' in m) return value.endsWith(m.suffix);
  return value.length > 0;
}

function serviceAccountMatches(s: ServiceAccountMatcher, c: ConnectionFacts): boolean {
  return c.hasIdentity && c.namespace === s.namespace && c.serviceAccount === s.serviceAccount;
}

/** Whether `ip` lies in the range; different families never match. */
export function inCidr(r: Pick<CidrMatcher, 'address' | 'length'>, ip: Uint8Array | undefined): boolean {
  if (!ip || ip.length !== r.address.length) return false;
  const full = r.length >> 3;
  for (let i = 0; i < full; i++) if (ip[i] !== r.address[i]) return false;
  const rest = r.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip[full]! & mask) === (r.address[full]! & mask);
}

/** Address bytes, with IPv4-mapped IPv6 (`::ffff:a.b.c.d`, as dual-stack sockets report) made IPv4. */
export function ipBytes(text: string): Uint8Array | undefined {
  const b = parseIp(text);
  if (b && b.length === 16 && isV4Mapped(b)) return b.slice(12);
  return b;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}
