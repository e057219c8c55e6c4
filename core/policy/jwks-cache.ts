/**
 * Remote JWKS for jwt_authn providers (a RequestAuthentication's `jwksUri`: `remote_jwks.http_uri`),
 * fetched with the provider's timeout through the `fetch` the host gives (core does no I/O itself),
 * kept `cache_duration` (5 minutes as istiod writes it), then refreshed in the background by the next
 * request that needs them while the old keys keep serving (on workerd, within the request that
 * noticed). A failed first fetch fails the provider's tokens ("Jwks remote fetch is failed", as
 * Envoy) and is retried after 1 s. Cached by URI, one fetch at a time per URI, so providers of several
 * listeners share it. Used by the Node gateway and the edge host alike.
 */
import { parseJwks, type Jwk, type JwksState, type JwtKeySource, type JwtProvider } from './l7-jwt.ts';

interface Entry {
  keys: readonly Jwk[] | undefined;
  fetchedAt: number;
  failedAt: number;
  loading: Promise<void> | undefined;
}

const RETRY_MS = 1000;

export interface JwksCacheOptions {
  fetch: (input: string, init: { signal: AbortSignal }) => Promise<Response>;
  now?: () => number;
  log?: (level: 'warn', msg: string) => void;
}

export class JwksCache implements JwtKeySource {
  readonly #byUri = new Map<string, Entry>();

  constructor(private readonly o: JwksCacheOptions) {}

  keys(p: JwtProvider): JwksState {
    const r = p.remote;
    if (r === undefined) return p.localKeys ?? 'failed';
    const e = this.#byUri.get(r.uri);
    if (e === undefined) return 'pending';
    const now = (this.o.now ?? Date.now)();
    if (e.keys !== undefined) {
      if (now - e.fetchedAt > r.cacheMs && e.loading === undefined) void this.load(p);
      return e.keys;
    }
    if (e.loading !== undefined || now - e.failedAt > RETRY_MS) return 'pending';
    return 'failed';
  }

  /** Fetches the provider's JWKS (one fetch per URI at a time); never rejects. */
  load(p: JwtProvider): Promise<void> {
    const r = p.remote;
    if (r === undefined) return Promise.resolve();
    let e = this.#byUri.get(r.uri);
    if (e === undefined) this.#byUri.set(r.uri, (e = { keys: undefined, fetchedAt: 0, failedAt: 0, loading: undefined }));
    if (e.loading !== undefined) return e.loading;
    const entry = e;
    entry.loading = (async () => {
      try {
        const res = await this.o.fetch(r.uri, { signal: AbortSignal.timeout(r.timeoutMs || 5000) });
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
