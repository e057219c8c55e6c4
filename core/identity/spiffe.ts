/**
 * SPIFFE ids as Weft uses them (SPIFFE-ID spec, https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md):
 * `spiffe://<trust-domain>/<path>`, and the Istio workload form `spiffe://<td>/ns/<namespace>/sa/<service-account>`.
 */

export interface SpiffeId {
  trustDomain: string;
  /** Path segments after the trust domain (never empty strings). */
  segments: string[];
}

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** SPIFFE trust domain: lowercase letters, digits, `.`, `-`, `_`; at most 255 characters. */
export function trustDomainProblem(td: string): string | undefined {
  if (td.length === 0) return 'trust domain is empty';
  if (td.length > 255) return 'trust domain is longer than 255 characters';
  if (!TRUST_DOMAIN.test(td)) return `trust domain ${JSON.stringify(td)} may hold only lowercase letters, digits, ".", "-" and "_"`;
  return undefined;
}

export function parseSpiffeId(uri: string): Parsed<SpiffeId> {
  const bad = (why: string): Parsed<SpiffeId> => ({ ok: false, message: `${JSON.stringify(uri)} is not a SPIFFE id: ${why}` });
  if (uri.length > 2048) return bad('longer than 2048 bytes');
  if (!uri.startsWith('spiffe://')) return bad('scheme must be spiffe://');
  const rest = uri.slice('spiffe://'.length);
  if (/[?#]/.test(rest)) return bad('query and fragment are not allowed');
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  if (/[@:]/.test(trustDomain)) return bad('user info and port are not allowed');
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem) return bad(tdProblem);
  if (slash < 0) return { ok: true, value: { trustDomain, segments: [] } };
  const segments = rest.slice(slash + 1).split('/');
  for (const s of segments) {
    if (s === '') return bad('empty path segment (trailing or doubled "/")');
    if (s === '.' || s === '..') return bad('"." and ".." segments are not allowed');
    if (!SEGMENT.test(s)) return bad(`path segment ${JSON.stringify(s)} may hold only letters, digits, ".", "-" and "_"`);
  }
  return { ok: true, value: { trustDomain, segments } };
}

export function formatSpiffeId(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}${id.segments.map((s) => `/${s}`).join('')}`;
}

/** Parses the Istio workload form `spiffe://<td>/ns/<ns>/sa/<sa>`. */
export function parseWorkloadIdentity(uri: string): Parsed<WorkloadIdentity> {
  const id = parseSpiffeId(uri);
  if (!id.ok) return id;
  const s = id.value.segments;
  if (s.length !== 4 || s[0] !== 'ns' || s[2] !== 'sa') {
    return { ok: false, message: `${JSON.stringify(uri)} is not a workload identity: expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>` };
  }
  return { ok: true, value: { trustDomain: id.value.trustDomain, namespace: s[1]!, serviceAccount: s[3]! } };
}

export function formatWorkloadIdentity(w: WorkloadIdentity): string {
  return `spiffe://${w.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`;
}

/** Same namespace and service account, trust domains both among `trustDomains` (the mesh's and its aliases). */
export function sameWorkloadIdentity(a: WorkloadIdentity, b: WorkloadIdentity, trustDomains: readonly string[]): boolean {
  if (a.namespace !== b.namespace || a.serviceAccount !== b.serviceAccount) return false;
  return a.trustDomain === b.trustDomain || (trustDomains.includes(a.trustDomain) && trustDomains.includes(b.trustDomain));
}
