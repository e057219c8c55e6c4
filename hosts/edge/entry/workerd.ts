/**
 * The edge host as a workerd / Cloudflare module worker. `export default edgeWorker()` polls
 * `weft control` from the env bindings `WEFT_CONTROL_URL` + `WEFT_TOKEN` (+ `WEFT_LABELS`,
 * `WEFT_POLL_MS`), or reads a snapshot from the JSON binding `WEFT_SNAPSHOT`; a deploy that bundles
 * its snapshot and plugins calls `edgeWorker({ snapshot, plugins })` from its own entry, importing
 * the snapshot as a JSON module and each plugin's glue and core modules as modules (workerd compiles
 * Wasm only at load: README.md). Everything starts with the first request: workerd allows no I/O
 * or timers outside one.
 */
import { createEdgeHost, type EdgeHost } from '../app.ts';
import type { EdgeSnapshot } from '../config-contract.ts';
import type { BundledPlugin } from '../plugins.ts';
import type { EdgeConfigSource } from '../config-contract.ts';
import { RestXdsSource } from '../rest-xds-source.ts';
import { configSource, type EdgeEnv } from './env-source.ts';

interface ExecutionContextLike {
  waitUntil?(p: Promise<unknown>): void;
}

/**
 * workerd runs timers only while a request (or its waitUntil) lasts, so a poller's next round,
 * scheduled by a request that has ended, never fires. Polling is therefore driven by traffic: a
 * request that finds the last successful round older than the interval restarts the poller (its
 * held versions kept, so an unchanged config costs 304s) and keeps the request context alive until
 * that round ends (waitUntil, bounded to 15 s).
 */
class RequestDrivenPolling implements EdgeConfigSource {
  #onChange: Parameters<EdgeConfigSource['start']>[0] | undefined;
  #kickedAt = 0;
  constructor(
    readonly inner: RestXdsSource,
    readonly intervalMs: number,
  ) {}
  start(onChange: Parameters<EdgeConfigSource['start']>[0]): void {
    this.#onChange = onChange;
    this.#kickedAt = this.#firstKick = Date.now();
    this.inner.start(onChange);
  }
  stop(): void {
    this.inner.stop();
  }
  /**
   * Before the first config: a round started by a request that has ended died with it (and its
   * promises cannot be awaited from another request), so a request that finds no config starts a
   * round of its own (at most one per second) and waits for the config within itself, up to
   * `waitMs`. True when a config serves.
   */
  async firstConfig(loaded: () => boolean, ctx: ExecutionContextLike | undefined, waitMs: number): Promise<boolean> {
    const now = Date.now();
    if (this.#onChange !== undefined && now - this.#firstKick > 1000) {
      this.#firstKick = now;
      const rounds = this.inner.status.rounds;
      this.inner.stop();
      this.inner.start(this.#onChange);
      ctx?.waitUntil?.(roundEnded(this.inner, rounds, now + 15_000));
    }
    const deadline = now + waitMs;
    while (!loaded() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    return loaded();
  }
  #firstKick = 0;

  /** Called on each request once started. */
  kick(ctx: ExecutionContextLike | undefined): void {
    const now = Date.now();
    if (this.#onChange === undefined || now - this.#kickedAt < this.intervalMs) return;
    const last = this.inner.status.lastSuccess;
    if (last !== undefined && now - Date.parse(last) < this.intervalMs) return;
    this.#kickedAt = now;
    const rounds = this.inner.status.rounds;
    this.inner.stop();
    this.inner.start(this.#onChange);
    ctx?.waitUntil?.(roundEnded(this.inner, rounds, now + 15_000));
  }
}

async function roundEnded(src: RestXdsSource, rounds: number, deadline: number): Promise<void> {
  const settled = () => src.status.rounds > rounds && (src.status.lastSuccess !== undefined || src.status.failures > 0);
  while (!settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/**
 * workerd's fetch takes the Host from the URL and ignores a Host header, so an endpoint reached by
 * its address sees that address as Host: the client's authority (or the route's host rewrite) goes
 * along as `x-forwarded-host` when they differ (README.md). Upstreams named by hostname (DNS
 * clusters) get their own name, which is what such a backend expects.
 */
export const workerdFetch: typeof fetch = (input, init) => {
  const h = init?.headers instanceof Headers ? init.headers : undefined;
  const host = h?.get('host');
  if (h !== undefined && host != null && typeof input === 'string' && host !== new URL(input).host) h.set('x-forwarded-host', host);
  return fetch(input, init);
};

export interface WorkerEnv extends EdgeEnv {
  WEFT_SNAPSHOT?: EdgeSnapshot | string;
}

export function edgeWorker(bundle: { snapshot?: EdgeSnapshot; plugins?: BundledPlugin[] } = {}): { fetch(req: Request, env: WorkerEnv, ctx: unknown): Response | Promise<Response> } {
  let host: EdgeHost | undefined;
  let polling: RequestDrivenPolling | undefined;
  return {
    fetch(req, env, ctx) {
      if (host === undefined) {
        const bound = typeof env.WEFT_SNAPSHOT === 'string' ? (JSON.parse(env.WEFT_SNAPSHOT) as EdgeSnapshot) : env.WEFT_SNAPSHOT;
        let source = configSource(env, bundle.snapshot ?? bound);
        if (source instanceof RestXdsSource) source = polling = new RequestDrivenPolling(source, Number(env.WEFT_POLL_MS ?? 5000));
        host = createEdgeHost({
          source,
          ...(bundle.plugins?.length ? { plugins: bundle.plugins } : {}),
          fetch: workerdFetch,
          lazy: true,
          clientIp: (r) => r.headers.get('cf-connecting-ip') ?? '',
        });
      }
      if (polling !== undefined && host.gateway.model === undefined) {
        // the first request starts the source (Hono app), the wait is ours (see firstConfig)
        const h = host;
        const p = polling;
        const first = h.app.fetch(new Request('http://weft.internal/healthz/ready'), env, ctx as never);
        return Promise.resolve(first).then(async (r) => {
          await r.body?.cancel();
          if (!(await p.firstConfig(() => h.gateway.model !== undefined, ctx as ExecutionContextLike, 5000))) return new Response('waiting for the first config\n', { status: 503 });
          return h.app.fetch(req, env, ctx as never);
        });
      }
      polling?.kick(ctx as ExecutionContextLike);
      return host.app.fetch(req, env, ctx as never);
    },
  };
}

export default edgeWorker();
