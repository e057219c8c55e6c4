/**
 * rate-limit: a token bucket per key (one global bucket by default), shared by every instance and
 * every version of this plugin in the process through the host's key-value store.
 *
 * The bucket is GCRA (the generic cell rate algorithm), which is a token bucket stated as one
 * number: the theoretical arrival time TAT. Each admitted request moves TAT on by the emission
 * interval T = 1/requestsPerSecond; a request is admitted when TAT - now <= tau, with
 * tau = (burst - 1) * T, and then TAT = max(TAT, now) + T. Keeping time instead of a token count
 * makes the state independent of the config, so a new version with another rate reads the old
 * buckets correctly.
 *
 * Why it is built on kv-increment and not get-then-set: increment is the one atomic operation the
 * host offers across instances, and advancing TAT by T is an increment. Only the max() needs a
 * second step (lifting an idle bucket's TAT to now), done as a second increment by the gap. If two
 * instances ever raced through that step both would add the gap, which moves TAT later: the bucket
 * then denies a little early, it never admits more than GCRA would. A denial gives its T back, so
 * a flood of denied requests does not keep a bucket empty. When calls are serialized (one thread),
 * the result is exact GCRA.
 *
 * Why the key carries an epoch: the store's TTL runs from a key's creation, not its last use, so a
 * key must not live longer than its TTL while holding state. Time is cut into epochs of E
 * (>= 60 s and >= 2 * burst * T); the key of epoch e holds TAT relative to the epoch's start and
 * expires after 2E. The first request of an epoch finds the key absent (value 0; a live key is
 * never 0, since it holds at least T) and carries TAT over from the previous epoch's key. Because
 * TAT never runs more than burst * T <= E/2 ahead of now, the previous epoch is all it needs. Idle
 * keys (per client address, say) thus vanish after at most 2E.
 */
import { kvGet, kvIncrement, monotonicNow } from 'weft:plugin/host@0.2.0';
import { sourceAddress, sourcePrincipal } from 'weft:plugin/http@0.2.0';
import { ABSENT, config, defineRawFilter, log, outcome, type Phases } from '../../sdk/index.ts';

/**
 * A config error: logged (the host shows the guest's log, while a thrown error reaches it only as a
 * trap), then thrown, so the load fails or the call fails by the failStrategy.
 */
function configError(message: string): never {
  log.error(message);
  throw new Error(message);
}

// u64/s64 cross the boundary as JS numbers under QuickJS (a BigInt argument traps there) and as
// BigInt under StarlingMonkey (`--backend starlingmonkey`): find out once which, from the clock.
let bigints: boolean | undefined;
function now(): number {
  const t = monotonicNow() as unknown;
  bigints ??= typeof t === 'bigint';
  return Number(t);
}
/** kv-increment in numbers (now() has run first, so `bigints` is known) */
function increment(key: string, delta: number, ttlMs: number): number {
  return Number(kvIncrement(key, (bigints ? BigInt(delta) : delta) as bigint, ttlMs));
}

interface RateLimitConfig {
  requestsPerSecond: number;
  burst?: number;
  key?: { header?: string; sourcePrincipal?: boolean; remoteAddress?: boolean };
  responseStatus?: number;
  headers?: boolean;
}

const enum KeyKind {
  Global,
  Header,
  Principal,
  Address,
}

interface Settings {
  /** emission interval, ns */
  t: number;
  /** burst tolerance (burst - 1) * t, ns */
  tau: number;
  /** burst * t: a full bucket's worth of time, ns */
  full: number;
  /** epoch length, ns */
  epoch: number;
  ttlMs: number;
  kind: KeyKind;
  header: string;
  /** key prefix; names the epoch length so versions with different epochs never mix indices */
  prefix: string;
  headers: boolean;
  limitText: string;
  status: number;
}

const REQUEST_PHASE: Phases = { requestHeaders: true };

function load(): Settings {
  const c = config<RateLimitConfig>();
  const rps = c.requestsPerSecond;
  if (typeof rps !== 'number' || !(rps > 0) || !Number.isFinite(rps)) configError('rate-limit: requestsPerSecond must be a positive number');
  const burst = c.burst ?? Math.max(1, Math.ceil(rps));
  if (!Number.isInteger(burst) || burst < 1) configError('rate-limit: burst must be an integer >= 1');
  const status = c.responseStatus ?? 429;
  if (!Number.isInteger(status) || status < 200 || status > 599) configError('rate-limit: responseStatus must be an HTTP status (200-599)');
  const t = Math.max(1, Math.round(1e9 / rps));
  const full = burst * t;
  const epoch = Math.max(60e9, Math.ceil((2 * full) / 1e9) * 1e9);
  const ttlMs = (2 * epoch) / 1e6 + 1000;
  if (ttlMs > 0xffff_ffff) configError('rate-limit: burst / requestsPerSecond is too large (a bucket would outlive the store TTL)');
  let kind = KeyKind.Global;
  let header = '';
  if (c.key?.header) {
    kind = KeyKind.Header;
    header = c.key.header.toLowerCase();
  } else if (c.key?.sourcePrincipal) kind = KeyKind.Principal;
  else if (c.key?.remoteAddress) kind = KeyKind.Address;
  return {
    t,
    tau: full - t,
    full,
    epoch,
    ttlMs,
    kind,
    header,
    prefix: `rl/${epoch / 1e9}/${kind}/`,
    headers: c.headers === true,
    limitText: String(burst),
    status,
  };
}

/**
 * The bucket's name for this request: '' for the global bucket and for requests without the key.
 * `values`: the call's argument, the key header's value when the key is a header.
 */
function bucketOf(s: Settings, values: string): string {
  switch (s.kind) {
    case KeyKind.Global:
      return '';
    case KeyKind.Header: {
      // bounded: a client must not make the store hold arbitrarily long keys
      const v = values === ABSENT ? '' : values;
      return v.length > 256 ? v.slice(0, 256) : v;
    }
    case KeyKind.Principal:
      return sourcePrincipal();
    case KeyKind.Address: {
      // "ip:port" or "[ip6]:port": the port changes per connection, the bucket is the address
      const a = sourceAddress();
      const colon = a.lastIndexOf(':');
      if (colon < 0) return a;
      return a.charCodeAt(0) === 91 /* [ */ ? a.slice(1, colon - 1) : a.slice(0, colon);
    }
  }
}

// Global-bucket keys change once per epoch: keep the strings instead of concatenating per call.
let cachedEpoch = -1;
let cachedCur = '';
let cachedPrev = '';

// Denials differ only by retry-after seconds: one outcome per value, made once.
const denials: string[] = [];

function denial(s: Settings, retryAfter: number): string {
  let d = denials[retryAfter];
  if (!d) {
    const headers: Record<string, string> = { 'retry-after': String(retryAfter) };
    if (s.headers) {
      headers['x-ratelimit-limit'] = s.limitText;
      headers['x-ratelimit-remaining'] = '0';
    }
    d = denials[retryAfter] = outcome.respond(s.status, 'rate limit exceeded\n', headers);
  }
  return d;
}

// At the SDK's strings level (defineRawFilter): the key header's value comes with the call, and the
// x-ratelimit-* figures go back in the outcome (made by the host on the response head: no response
// call; set, never appended, so an upstream's own figures are replaced).
export const filter = defineRawFilter(() => {
  const s = load();
  const limitEntry = outcome.setResponse('x-ratelimit-limit', s.limitText);
  // the remaining figure's entry without its value and closing NUL
  const remainingHead = outcome.setResponse('x-ratelimit-remaining', '').slice(0, -1);
  return {
    phases: (): Phases => REQUEST_PHASE,
    headers: () => ({ request: s.kind === KeyKind.Header ? [s.header] : [] }),
    onRequestHeaders(values: string): string {
      const t = now();
      const e = Math.floor(t / s.epoch);
      const nowRel = t - e * s.epoch;
      let cur: string;
      let prev: string;
      if (s.kind === KeyKind.Global) {
        if (e !== cachedEpoch) {
          cachedEpoch = e;
          cachedCur = s.prefix + e;
          cachedPrev = s.prefix + (e - 1);
        }
        cur = cachedCur;
        prev = cachedPrev;
      } else {
        const b = s.prefix + bucketOf(s, values) + '/';
        cur = b + e;
        prev = b + (e - 1);
      }

      const v = increment(cur, s.t, s.ttlMs);
      let base = v - s.t;
      if (base === 0) {
        // first request of this epoch for this bucket: carry TAT over from the previous epoch
        const p = kvGet(prev);
        if (p != null) {
          const carried = Number(p) - s.epoch;
          if (carried > 0) base = carried;
        }
      }
      const tat = base > nowRel ? base : nowRel;
      if (tat - nowRel > s.tau) {
        if (base !== v) increment(cur, base - v, s.ttlMs);
        const wait = Math.ceil((tat - s.tau - nowRel) / 1e9);
        return denial(s, wait < 1 ? 1 : wait);
      }
      const next = tat + s.t;
      if (next !== v) increment(cur, next - v, s.ttlMs);
      if (!s.headers) return '';
      return limitEntry + remainingHead + Math.floor((s.full - (next - nowRel)) / s.t) + '\u0000';
    },
  };
});
