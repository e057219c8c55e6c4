/**
 * Remote JWKS for jwt_authn providers (`remote_jwks.http_uri`), fetched by the proxy over HTTP(S)
 * with the provider's timeout, kept `cache_duration` (5 min as istiod writes it) and refreshed in the
 * background when stale (requests keep using the old keys meanwhile). A failed first fetch makes the
 * provider's tokens fail with "Jwks remote fetch is failed" (Envoy) and is retried after 1 s.
 * Cached by URI, so providers of several listeners share one fetch.
 */
import { parseJwks, type Jwk, type JwksState, type JwtKeySource, type JwtProvider } from '../../../../core/policy/l7-jwt.ts';

interface Entry {
  keys: readonly Jwk[] | undefined;
  fetchedAt: number;
  failedAt: number;
  loading: Promise<void> | undefined;
}

const RETRY_MS = 1000;

export class JwksCache implements JwtKeySource {
  readonly #byUri = new Map<string, Entry>();

  constructor(
    private readonly opts: { now?: () => number; fetch?: typeof fetch; log?: (level: 'warn' | 'debug', msg: string) => void } = {},
  ) {}

  keys(p: JwtProvider): JwksState {
    const r = p.remote;
    if (r === undefined) return p.localKeys ?? 'failed';
    const e = this.#byUri.get(r.uri);
    const now = (this.opts.now ?? Date.now)();
    if (e === undefined) return 'pending';
    if (e.keys !== undefined) {
      if (now - e.fetchedAt > r.cacheMs && e.loading === undefined) void this.load(p);
      return e.keys;
    }
    if (e.loading !== undefined) return 'pending';
    if (now - e.failedAt > RETRY_MS) return 'pending';
    return 'failed';
  }

  /** Fetches the provider's JWKS (one fetch per URI at a time); never rejects. */
  load(p: JwtProvider): Promise<void> {
    const r = p.remote;
    if (r === undefined) return Promise.resolve();
    let e = this.#byUri.get(r.uri);
    if (e === undefined) {
      e = { keys: undefined, fetchedAt: 0, failedAt: 0, loading: undefined };
      this.#byUri.set(r.uri, e);
    }
    if (e.loading !== undefined) return e.loading;
    const entry = e;
    const f = this.opts.fetch ?? fetch;
    entry.loading = (async () => {
      try {
        const res = await f(r.uri, { signal: AbortSignal.timeout(r.timeoutMs || 5000) });
        if (res.status !== 200) throw new Error(`status ${res.status}`);
        entry.keys = parseJwks(await res.text(), r.uri);
        entry.fetchedAt = (this.opts.now ?? Date.now)();
      } catch (err) {
        entry.failedAt = (this.opts.now ?? Date.now)();
        this.opts.log?.('warn', `jwks ${r.uri} (issuer ${p.issuer}): fetch failed: ${(err as Error).message}`);
      } finally {
        entry.loading = undefined;
      }
    })();
    return entry.loading;
  }
}
