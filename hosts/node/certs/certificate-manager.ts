/**
 * CertificateManager: the node proxy's workload certificates (design.md 5, issue 3). For each SPIFFE
 * identity it makes its own ECDSA P-256 key (the key never leaves this process), sends a CSR to the
 * CA, holds the chain and a cached `tls.SecureContext`, renews at half life with jitter, and on
 * failure retries with backoff while keeping the old certificate as long as it is valid.
 *
 * Rotation never drops a connection: a renewal makes a new WorkloadCertificate (and context); TLS
 * sessions opened with the old one go on, new connections get the new one. Listeners learn of it
 * through the 'rotated' event (the HBONE server uses it to GOAWAY sessions on the old context).
 *
 * Events: 'rotated' (RotationEvent), 'failed' (FailureEvent). No 'error' event: a CA outage is a
 * state, reported by `list()` and 'failed', not an exception.
 */
import { EventEmitter } from 'node:events';
import { createKeyAndCsr } from '../ca/csr.ts';
import type { CertificateSigner } from './ca-client.ts';
import { MAX_TIMER_MS, backoffDelay, renewalDelay, type BackoffPolicy, type RenewalPolicy } from './renewal.ts';
import { buildWorkloadCertificate, certificateInfo, splitPems, type CertificateInfo, type WorkloadCertificate } from './workload-certificate.ts';

/** Never renew sooner than this after an issuance. */
export const MIN_RENEWAL_MS = 1000;

export interface CertificateManagerOptions {
  signer: CertificateSigner;
  /** The mesh root(s) peers are verified against. */
  rootPems: string | readonly string[];
  /** Requested lifetime; default 24 h (the CA may shorten it). */
  validitySeconds?: number;
  renewal?: RenewalPolicy;
  backoff?: BackoffPolicy;
  /** Key and CSR maker; default a fresh P-256 key per certificate. */
  keyAndCsr?: (identity: string) => { keyPem: string; csrPem: string };
  now?: () => number;
  random?: () => number;
}

export interface RotationEvent {
  identity: string;
  certificate: WorkloadCertificate;
  /** The certificate replaced (undefined for the first one). */
  previous?: WorkloadCertificate;
}

export interface FailureEvent {
  identity: string;
  error: Error;
  attempt: number;
  retryInMs: number;
  /** Whether a still-valid certificate is being served meanwhile. */
  serving: boolean;
}

export type CertificateState = 'pending' | 'valid' | 'renewing' | 'failing' | 'expired';

export interface CertificateListing extends Partial<CertificateInfo> {
  identity: string;
  state: CertificateState;
  /** When the next renewal (or retry) is due. */
  nextAttemptAt?: number;
  lastError?: string;
}

interface Entry {
  identity: string;
  current?: WorkloadCertificate;
  /** A resolved promise of `current`, so a cache hit allocates nothing. */
  ready?: Promise<WorkloadCertificate>;
  inflight?: Promise<WorkloadCertificate>;
  timer?: NodeJS.Timeout;
  dueAt?: number;
  attempt: number;
  lastError?: Error;
}

export class CertificateManager extends EventEmitter {
  readonly #o: CertificateManagerOptions;
  readonly #roots: string[];
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  readonly #random: () => number;
  #closed = false;

  constructor(o: CertificateManagerOptions) {
    super();
    this.#o = o;
    this.#roots = splitPems(o.rootPems);
    if (this.#roots.length === 0) throw new Error('CertificateManager needs the mesh root certificate(s)');
    this.#now = o.now ?? Date.now;
    this.#random = o.random ?? Math.random;
  }

  get rootPems(): readonly string[] {
    return this.#roots;
  }

  /**
   * The certificate for `identity`, issued on first use. Resolves at once from the cache; waits for
   * the CA when there is no valid certificate; rejects with the last error while the CA is failing
   * and nothing valid is held (the caller's connection fails fast, retries go on in the background).
   */
  get(identity: string): Promise<WorkloadCertificate> {
    if (this.#closed) return Promise.reject(new Error('the certificate manager is closed'));
    let e = this.#entries.get(identity);
    if (!e) this.#entries.set(identity, (e = { identity, attempt: 0 }));
    if (e.current && this.#now() < e.current.notAfter) return (e.ready ??= Promise.resolve(e.current));
    if (e.inflight) return e.inflight;
    if (e.lastError && e.timer) return Promise.reject(new Error(`no valid certificate for ${identity} yet: ${e.lastError.message} (retrying)`, { cause: e.lastError }));
    return this.#issue(e);
  }

  /** The valid certificate held for `identity`, if any (no issuance). */
  current(identity: string): WorkloadCertificate | undefined {
    const c = this.#entries.get(identity)?.current;
    return c && this.#now() < c.notAfter ? c : undefined;
  }

  /** Renew now (tests, `weft` admin actions); resolves with the new certificate. */
  renew(identity: string): Promise<WorkloadCertificate> {
    const e = this.#entries.get(identity);
    if (!e) return this.get(identity);
    return e.inflight ?? this.#issue(e);
  }

  /** Stop holding `identity` (its workload left this node); existing connections are unaffected. */
  forget(identity: string): void {
    const e = this.#entries.get(identity);
    if (e?.timer) clearTimeout(e.timer);
    this.#entries.delete(identity);
  }

  identities(): string[] {
    return [...this.#entries.keys()];
  }

  /** For `/config_dump` and `proxy-config secret`: chains and state, never keys. */
  list(): CertificateListing[] {
    const now = this.#now();
    return [...this.#entries.values()].map((e) => {
      const c = e.current;
      const valid = c !== undefined && now < c.notAfter;
      const state: CertificateState = !c ? (e.lastError ? 'failing' : 'pending') : !valid ? 'expired' : e.lastError ? 'failing' : e.inflight ? 'renewing' : 'valid';
      return { identity: e.identity, state, ...(c ? certificateInfo(c) : {}), ...(e.dueAt ? { nextAttemptAt: e.dueAt } : {}), ...(e.lastError ? { lastError: e.lastError.message } : {}) };
    });
  }

  close(): void {
    this.#closed = true;
    for (const e of this.#entries.values()) if (e.timer) clearTimeout(e.timer);
    this.#o.signer.close?.();
  }

  #issue(e: Entry): Promise<WorkloadCertificate> {
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    e.dueAt = undefined;
    const p = this.#attempt(e.identity).then(
      (cert) => {
        if (e.inflight === p) e.inflight = undefined;
        if (this.#closed || this.#entries.get(e.identity) !== e) return cert;
        const previous = e.current;
        e.current = cert;
        e.ready = undefined;
        e.attempt = 0;
        e.lastError = undefined;
        // a floor: a CA that hands out very short certificates must not be asked again in a loop
        this.#schedule(e, Math.max(MIN_RENEWAL_MS, renewalDelay(cert, this.#now(), this.#random(), this.#o.renewal, this.#now())));
        this.emit('rotated', { identity: e.identity, certificate: cert, ...(previous ? { previous } : {}) } satisfies RotationEvent);
        return cert;
      },
      (err: unknown) => {
        if (e.inflight === p) e.inflight = undefined;
        const error = err instanceof Error ? err : new Error(String(err));
        if (this.#closed || this.#entries.get(e.identity) !== e) throw error;
        e.attempt++;
        e.lastError = error;
        const serving = e.current !== undefined && this.#now() < e.current.notAfter;
        const retryInMs = backoffDelay(e.attempt, this.#random(), this.#o.backoff);
        this.#schedule(e, retryInMs);
        this.emit('failed', { identity: e.identity, error, attempt: e.attempt, retryInMs, serving } satisfies FailureEvent);
        throw error;
      },
    );
    e.inflight = p;
    // background renewals must not surface as unhandled rejections; callers of get() still see them
    p.catch(() => {});
    return p;
  }

  async #attempt(identity: string): Promise<WorkloadCertificate> {
    const { keyPem, csrPem } = (this.#o.keyAndCsr ?? createKeyAndCsr)(identity);
    const chainPems = await this.#o.signer.sign({ identity, csrPem, validitySeconds: this.#o.validitySeconds ?? 24 * 3600 });
    return buildWorkloadCertificate({ identity, keyPem, chainPems, rootPems: this.#roots });
  }

  #schedule(e: Entry, delay: number): void {
    if (e.timer) clearTimeout(e.timer);
    e.dueAt = this.#now() + delay;
    const arm = (left: number): void => {
      e.timer = setTimeout(() => {
        const rest = (e.dueAt ?? 0) - this.#now();
        if (rest > 1000) return arm(rest);
        e.timer = undefined;
        this.#issue(e).catch(() => {});
      }, Math.min(left, MAX_TIMER_MS));
      e.timer.unref();
    };
    arm(delay);
  }
}
