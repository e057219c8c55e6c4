/**
 * L4 authorization of one inbound connection, Istio's order as ztunnel applies it
 * (src/state.rs assert_rbac): dry-run policies are evaluated and reported only; any enforced DENY
 * that matches denies; then, when ALLOW policies apply, one of them must match; otherwise allow.
 * Fail-closed where ztunnel would skip: a policy the workload names but this proxy does not hold
 * denies the connection (it may be an ALLOW that would not match, or a STRICT mTLS rule).
 */
import { connectionFacts, matchPolicy } from './match.ts';
import type { AuditRecord, AuthzDecision, AuthzRequest, CompiledPolicy } from './model.ts';

/** The policies that apply to one destination workload (see NodeState.policiesFor). */
export interface ApplicablePolicies {
  readonly policies: readonly CompiledPolicy[];
  /** Keys the workload names that this proxy does not hold. */
  readonly missing?: readonly string[];
}

/** Names istiod gives the Authorizations it derives from PeerAuthentication (core/xds/peer-authentication.ts). */
const STATIC_STRICT = 'istio_converted_static_strict';
const CONVERTED_PA = 'converted_peer_authentication_';

export function authorize(applicable: ApplicablePolicies, req: AuthzRequest): AuthzDecision {
  const facts = connectionFacts({
    sourceIp: req.sourceIp,
    destinationIp: req.destinationIp,
    destinationPort: req.destinationPort,
    ...(req.mtls && req.peerIdentity ? { identity: req.peerIdentity } : {}),
  });
  const audit: AuditRecord[] = [];
  for (const p of applicable.policies) {
    if (p.dryRun && matchPolicy(p, facts).matched) audit.push({ policy: p.key, action: p.action });
  }
  if (applicable.missing?.length) {
    const key = applicable.missing[0]!;
    return {
      allowed: false,
      code: 'unknown-policy',
      policy: key,
      audit,
      reason: `denied: the workload names policy ${key}, which this proxy has not received (is the control plane still sending it?); failing closed`,
    };
  }
  const allow: CompiledPolicy[] = [];
  for (const p of applicable.policies) {
    if (p.dryRun) continue;
    if (p.action === 'ALLOW') {
      allow.push(p);
      continue;
    }
    const m = matchPolicy(p, facts);
    if (!m.matched) continue;
    return { allowed: false, code: 'deny-match', policy: p.key, audit, reason: denyReason(p, req, m.rule ?? 0, m.unsupported) };
  }
  if (allow.length === 0) return { allowed: true, code: 'no-policy', audit, reason: 'allowed: no ALLOW policy applies to the workload' };
  for (const p of allow) {
    const m = matchPolicy(p, facts);
    if (m.matched) return { allowed: true, code: 'allow-match', policy: p.key, audit, reason: `allowed by ALLOW policy ${p.key} (rule ${(m.rule ?? 0) + 1})` };
  }
  const names = allow.map((p) => p.key);
  const shown = names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
  const partial = allow.some((p) => p.unsupported || p.rules.some((r) => r.clauses.some((c) => c.some((m) => m.unsupported))));
  return {
    allowed: false,
    code: 'no-allow-match',
    audit,
    reason:
      `denied: no ALLOW policy matched ${describePeer(req)} (applying: ${shown})` +
      (partial ? '; some of their rules hold conditions a node proxy cannot evaluate, which never match (use a waypoint for HTTP rules)' : ''),
  };
}

function denyReason(p: CompiledPolicy, req: AuthzRequest, rule: number, unsupported: string | undefined): string {
  if (p.name === STATIC_STRICT || p.name.startsWith(CONVERTED_PA)) {
    return `denied: plaintext connection to port ${req.destinationPort} refused, PeerAuthentication requires mTLS (STRICT; policy ${p.key})`;
  }
  const base = `denied by DENY policy ${p.key} (rule ${rule + 1}) for ${describePeer(req)}`;
  return unsupported ? `${base}; it holds ${unsupported}, which counts as a match for DENY (fail-closed)` : base;
}

function describePeer(req: AuthzRequest): string {
  const who = req.mtls && req.peerIdentity ? req.peerIdentity : 'a peer without identity (plaintext)';
  return `${who} from ${req.sourceIp} to port ${req.destinationPort}`;
}
