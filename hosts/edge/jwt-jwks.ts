/**
 * Remote JWKS on the edge host (a RequestAuthentication's `jwksUri`: jwt_authn `remote_jwks`),
 * fetched with the runtime's `fetch` and the provider's timeout, kept `cache_duration` (5 minutes as
 * istiod writes it; the TTL), then refetched by the next request that needs them while the old keys
 * keep serving. A failed first fetch fails the provider's tokens ("Jwks remote fetch is failed", as
 * Envoy) and is retried after 1 s. Cached by URI, one fetch at a time per URI. The Node gateway's
 * cache (hosts/node/l7-proxy/filters/jwks-cache.ts) behaves the same; this one imports nothing of Node.
 */
import { parseJwks, type Jwk, type JwksState, type JwtKeySource, type JwtProvider } from '../../core/policy/l7-jwt.ts';

interface Entry {
  keys: readonly Jwk[] | undefined;
  fetchedAt: number;
  failedAt: number;
  loading: Promise<void> | undefined;
}

const RETRY_MS = 1000;

export class EdgeJwksCache implements JwtKeySource {
  readonly #byUri = new Map<string, Entry>();

  constructor(private readonly o: { fetch?: typeof fetch; now?: () => number; log?: (level: 'warn', msg: string) => void } = {}) {}

  keys(p: JwtProvider): JwksState {
    const r = p.remote;
    if (r === undefined) return p.localKeys ?? 'failed';
    const e = this.#byUri.get(r.uri);
    if (e === undefined) return 'pending';
    const now = (this.o.now ?? Date.now)();
    if (e.keys !== undefined) {
      // stale: refreshed in the background (on workerd, within the request that noticed)
      if (now - e.fetchedAt > r.cacheMs && e.loading === undefined) void this.load(p);
      return e.keys;
    }
    if (e.loading !== undefined || now - e.failedAt > RETRY_MS) return 'pending';
    return 'failed';
  }

  /** Fetches the provider's JWKS; never rejects. */
  load(p: JwtProvider): Promise<void> {
    const r = p.remote;
    if (r === undefined) return Promise.resolve();
    let e = this.#byUri.get(r.uri);
    if (e === undefined) this.#byUri.set(r.uri, (e = { keys: undefined, fetchedAt: 0, failedAt: 0, loading: undefined }));
    if (e.loading !== undefined) return e.loading;
    const entry = e;
    const f = this.o.fetch ?? ((i: RequestInfo | URL, init?: RequestInit) => fetch(i, init));
    entry.loading = (async () => {
      try {
        const res = await f(r.uri, { signal: AbortSignal.timeout(r.timeoutMs || 5000) });
        if (res.status !== 200) {
          await res.body?.cancel();
          throw new Error(`status ${res.status}`);
        }
        entry.keys = parseJwks(await res.text(), r.uri);
        entry.fetchedAt = (this.o.now ?? Date.now)();
      } catch (err) {
        entry.failedAt = (this.o.now ?? Date.now)();
        this.o.log?.('warn', `jwks ${r.uri} (issuer ${p.issuer}): fetch failed: ${(err as Error).message}`);
      } finally {
        entry.loading = undefined;
      }
    })();
    return entry.loading;
  }
}
