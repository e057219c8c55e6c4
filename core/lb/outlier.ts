/**
 * Outlier detection (Envoy's outlier_detection, the consecutive-errors half; Istio's
 * DestinationRule outlierDetection): passive health from the responses the proxy sees.
 *
 * - `consecutive_5xx` errors in a row (5xx responses; the caller reports connect failures, resets
 *   and timeouts as 503/504, as Envoy does when local-origin errors are not split) eject the endpoint
 *   at once, when `enforcing_consecutive_5xx` percent of a random draw allows it and ejecting it would
 *   not take more than `max_ejection_percent` of the endpoints out (Envoy: (ejected + 1) / total).
 *   `consecutive_gateway_failure` (502/503/504) likewise, enforced at 0% by default as in Envoy.
 * - An ejection lasts `base_ejection_time` x the times the endpoint has been ejected, at most
 *   `max_ejection_time`. Endpoints return on the interval sweep (`interval`) that finds the time
 *   passed, as Envoy's timer does; a sweep that finds a returned endpoint healthy lowers its
 *   ejection count by one once it has been back for a base ejection time, so a flapping endpoint stays out longer and a recovered one is forgiven.
 *
 * Runtime-neutral: no timers. The caller passes the time (ms) to every call and runs `tick(now)`
 * from its own timer (every `intervalMs`, or more often: `tick` sweeps only when one is due).
 * Success-rate ejection is not implemented (Istio writes enforcing_success_rate 0).
 */

export interface OutlierConfig {
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionPercent: number;
  /** Percent (0-100) of detected outliers actually ejected. */
  enforcingConsecutive5xx: number;
  enforcingConsecutiveGatewayFailure: number;
}

/** Envoy's defaults (Istio documents the same). */
export const DEFAULT_OUTLIER_CONFIG: Readonly<OutlierConfig> = {
  consecutive5xx: 5,
  consecutiveGatewayFailure: 5,
  intervalMs: 10_000,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 10,
  enforcingConsecutive5xx: 100,
  enforcingConsecutiveGatewayFailure: 0,
};

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  /** Times ejected (the ejection multiplier). */
  ejections: number;
  /** When the current ejection started; -1 when not ejected. */
  ejectedAt: number;
  /** When it last returned; -1 when never ejected. */
  returnedAt: number;
}

export type OutlierEvent = { kind: 'eject' | 'return'; key: string; at: number; ejections: number };

export class OutlierDetector {
  readonly config: Readonly<OutlierConfig>;
  readonly #random: () => number;
  readonly #hosts = new Map<string, HostState>();
  #ejected = 0;
  #nextSweep = -1;
  /** Called on every ejection and return (the cluster rebuilds its eligible list). */
  onChange: ((e: OutlierEvent) => void) | undefined;

  constructor(config: Partial<OutlierConfig> = {}, random: () => number = Math.random) {
    this.config = { ...DEFAULT_OUTLIER_CONFIG, ...config };
    this.#random = random;
  }

  /** Makes the tracked endpoint set `keys` (endpoints that left are forgotten; new ones start clean). */
  setHosts(keys: Iterable<string>): void {
    const keep = new Set(keys);
    for (const k of this.#hosts.keys()) {
      if (!keep.has(k)) {
        if (this.#hosts.get(k)!.ejectedAt >= 0) this.#ejected--;
        this.#hosts.delete(k);
      }
    }
    for (const k of keep) if (!this.#hosts.has(k)) this.#hosts.set(k, { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0, ejectedAt: -1, returnedAt: -1 });
  }

  isEjected(key: string): boolean {
    const h = this.#hosts.get(key);
    return h !== undefined && h.ejectedAt >= 0;
  }

  ejectedCount(): number {
    return this.#ejected;
  }

  /** Times `key` has been ejected (its current multiplier). */
  ejections(key: string): number {
    return this.#hosts.get(key)?.ejections ?? 0;
  }

  /**
   * One response (or local failure mapped to 503/504) from endpoint `key`. Returns true when this
   * result ejected it.
   */
  report(key: string, status: number, now: number): boolean {
    const h = this.#hosts.get(key);
    if (!h) return false;
    this.#start(now);
    if (status < 500) {
      h.consecutive5xx = 0;
      h.consecutiveGateway = 0;
      return false;
    }
    h.consecutive5xx++;
    if (status === 502 || status === 503 || status === 504) h.consecutiveGateway++;
    else h.consecutiveGateway = 0;
    if (h.ejectedAt >= 0) return false;
    const c = this.config;
    if (c.consecutive5xx > 0 && h.consecutive5xx >= c.consecutive5xx) {
      h.consecutive5xx = 0;
      h.consecutiveGateway = 0;
      if (this.#enforced(c.enforcingConsecutive5xx)) return this.#eject(key, h, now);
    } else if (c.consecutiveGatewayFailure > 0 && h.consecutiveGateway >= c.consecutiveGatewayFailure) {
      h.consecutiveGateway = 0;
      if (this.#enforced(c.enforcingConsecutiveGatewayFailure)) return this.#eject(key, h, now);
    }
    return false;
  }

  /** Runs the interval sweep when one is due (at most one per call: a late timer catches up once). */
  tick(now: number): void {
    this.#start(now);
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + this.config.intervalMs;
    for (const [key, h] of this.#hosts) {
      if (h.ejectedAt >= 0) {
        const duration = Math.min(this.config.baseEjectionMs * h.ejections, Math.max(this.config.maxEjectionMs, this.config.baseEjectionMs));
        if (now >= h.ejectedAt + duration) {
          h.ejectedAt = -1;
          h.returnedAt = now;
          h.consecutive5xx = 0;
          h.consecutiveGateway = 0;
          this.#ejected--;
          this.onChange?.({ kind: 'return', key, at: now, ejections: h.ejections });
        }
      } else if (h.ejections > 0 && now - h.returnedAt >= this.config.baseEjectionMs) {
        // Healthy for a base ejection time since it returned: forgive one ejection (Envoy's backoff decrement).
        h.ejections--;
      }
    }
  }

  /** When the next sweep is due (ms, the caller's clock); -1 before the first call. */
  nextSweepAt(): number {
    return this.#nextSweep;
  }

  #start(now: number): void {
    if (this.#nextSweep < 0) this.#nextSweep = now + this.config.intervalMs;
  }

  #enforced(percent: number): boolean {
    if (percent >= 100) return true;
    if (percent <= 0) return false;
    return this.#random() * 100 < percent;
  }

  #eject(key: string, h: HostState, now: number): boolean {
    const total = this.#hosts.size;
    if ((100 * (this.#ejected + 1)) / total > this.config.maxEjectionPercent) return false;
    h.ejectedAt = now;
    // The multiplier stops growing where the ejection would pass max_ejection_time.
    if (this.config.baseEjectionMs * h.ejections < this.config.maxEjectionMs) h.ejections++;
    this.#ejected++;
    this.onChange?.({ kind: 'eject', key, at: now, ejections: h.ejections });
    return true;
  }
}
