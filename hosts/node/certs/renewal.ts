/**
 * When to renew a certificate and how long to wait after a failure. Pure arithmetic, so the
 * schedule is tested without timers.
 *
 * Renewal happens at half life (Istio's and ztunnel's habit), a little earlier at random so that
 * the certificates a node proxy got at the same moment (its start) do not all renew at once.
 */

/** setTimeout's upper bound (~24.8 days); longer waits are re-armed. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface RenewalPolicy {
  /** Fraction of the lifetime after which to renew; default 0.5. */
  at?: number;
  /** Up to this fraction of the lifetime earlier, at random; default 0.05. */
  jitter?: number;
}

/**
 * Milliseconds from `now` until the certificate should be renewed (0 when overdue). The lifetime
 * counts from when it was issued (`issuedAt`) when that is later than notBefore: CAs back-date
 * notBefore for clock skew (Weft's by 60 s), which would otherwise put short-lived certificates
 * past half life the moment they arrive.
 */
export function renewalDelay(cert: { notBefore: number; notAfter: number }, now: number, random: number, p: RenewalPolicy = {}, issuedAt?: number): number {
  const start = issuedAt !== undefined && issuedAt > cert.notBefore && issuedAt < cert.notAfter ? issuedAt : cert.notBefore;
  const life = Math.max(0, cert.notAfter - start);
  const at = start + life * ((p.at ?? 0.5) - (p.jitter ?? 0.05) * random);
  return Math.max(0, Math.round(at - now));
}

export interface BackoffPolicy {
  initialMs?: number;
  maxMs?: number;
}

/** Exponential backoff with full jitter on the upper half: attempt 1 waits ~initial, doubling to max. */
export function backoffDelay(attempt: number, random: number, p: BackoffPolicy = {}): number {
  const initial = p.initialMs ?? 500;
  const max = p.maxMs ?? 30_000;
  const base = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + (base / 2) * random);
}
