/**
 * The compiled form of `istio.security.Authorization` that node proxies evaluate (see compile.ts),
 * and the decision an evaluation returns. Plain data (arrays, no Sets) so `/config_dump` can show
 * it as JSON. Semantics are ztunnel's (src/rbac.rs): rules OR-ed, clauses AND-ed, matches OR-ed,
 * within a match every non-empty field must hold.
 */

export type PolicyScope = 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';

/** What an enforced policy does when it matches. Dry-run policies (Istio AUDIT) are only reported. */
export type PolicyAction = 'ALLOW' | 'DENY';

/** Istio's wildcard forms as the control plane encodes them (`*`, `*x`, `x*`, exact). */
export type StringMatcher = { readonly exact: string } | { readonly prefix: string } | { readonly suffix: string } | { readonly presence: true };

export interface ServiceAccountMatcher {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** An IP range as text (`10.0.0.0/8`) and bytes, for display and for matching. */
export interface CidrMatcher {
  readonly text: string;
  readonly address: Uint8Array;
  readonly length: number;
}

export interface CompiledMatch {
  readonly namespaces: readonly StringMatcher[];
  readonly notNamespaces: readonly StringMatcher[];
  readonly serviceAccounts: readonly ServiceAccountMatcher[];
  readonly notServiceAccounts: readonly ServiceAccountMatcher[];
  /** Against the peer identity without `spiffe://` (`td/ns/<ns>/sa/<sa>`). */
  readonly principals: readonly StringMatcher[];
  readonly notPrincipals: readonly StringMatcher[];
  readonly sourceIps: readonly CidrMatcher[];
  readonly notSourceIps: readonly CidrMatcher[];
  readonly destinationIps: readonly CidrMatcher[];
  readonly notDestinationIps: readonly CidrMatcher[];
  readonly destinationPorts: readonly number[];
  readonly notDestinationPorts: readonly number[];
  /**
   * Why this match cannot be evaluated here (an empty match: an HTTP-only condition the control
   * plane dropped; unknown fields; a malformed value). Fail-closed: it never matches in an ALLOW
   * policy and always matches in a DENY policy.
   */
  readonly unsupported?: string;
}

/** Matches OR-ed. An empty clause matches (ztunnel). */
export type CompiledClause = readonly CompiledMatch[];
/** Clauses AND-ed. */
export interface CompiledRule {
  readonly clauses: readonly CompiledClause[];
}

export interface CompiledPolicy {
  /** `<namespace>/<name>`: how workloads name it in `authorization_policies`. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly scope: PolicyScope;
  readonly action: PolicyAction;
  /** Evaluated and reported, never enforced (ztunnel's dry_run; Weft sends Istio AUDIT this way). */
  readonly dryRun: boolean;
  /** Rules OR-ed; no rules never matches (an ALLOW policy without rules allows nothing). */
  readonly rules: readonly CompiledRule[];
  /** Set when the whole policy holds something this proxy cannot evaluate (fail-closed as a match). */
  readonly unsupported?: string;
}

/** The connection as the inbound side sees it. */
export interface AuthzRequest {
  sourceIp: string;
  destinationIp: string;
  destinationPort: number;
  /** True when the connection came over HBONE mTLS (15008); false for plaintext inbound (15006). */
  mtls: boolean;
  /** The peer's SPIFFE id from its certificate; ignored when `mtls` is false. */
  peerIdentity?: string;
}

export interface AuditRecord {
  /** The dry-run policy that matched. */
  policy: string;
  action: PolicyAction;
}

export type AuthzCode = 'no-policy' | 'allow-match' | 'deny-match' | 'no-allow-match' | 'unknown-policy';

export interface AuthzDecision {
  allowed: boolean;
  /** One readable sentence for the access log. */
  reason: string;
  code: AuthzCode;
  /** `<ns>/<name>` of the policy that decided, when one did. */
  policy?: string;
  /** Dry-run (AUDIT) policies that matched: never enforced, for the host to log. */
  audit: readonly AuditRecord[];
}
