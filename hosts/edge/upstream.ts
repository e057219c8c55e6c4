/**
 * The edge host's upstream: one `fetch` per attempt to the endpoint the cluster's balancer picked,
 * by plain HTTP (HTTPS when the cluster has an UpstreamTlsContext, with its SNI as the URL host when
 * set) to the endpoint's address and port. There is no HBONE and no mesh mTLS from the edge: an
 * endpoint the mesh reaches over HBONE is called directly, so it must accept plain HTTP from the
 * edge's network (README.md). The route timeout (or the retry policy's per-try timeout) bounds each
 * attempt with an AbortController; retries follow the route's retry policy for requests without a
 * body (a streamed body cannot be replayed). The response body is streamed back as it arrives.
 */
import type { UpstreamCluster, UpstreamEndpoint } from '../../core/route/index.ts';
import type { RetryPolicy } from '../../core/route/retry.ts';

export interface Attempt {
  cluster: UpstreamCluster;
  method: string;
  target: string;
  headers: Headers;
  body: BodyInit | null;
  timeoutMs: number;
  retry: RetryPolicy | undefined;
  hash: number | undefined;
}

export type UpstreamResult = { ok: true; response: Response; endpoint: UpstreamEndpoint } | { ok: false; status: number; body: string; endpoint: UpstreamEndpoint | undefined };

/**
 * What an upstream fetch may hand over beside its Response (entry/node-fetch.ts, on Node and Deno):
 * the response headers as a fresh `Headers` the gateway may change in place, and the body whole
 * when it is small and of known length. The gateway then answers with one write of bytes, where a
 * runtime's Response would cost a copy of its (immutable) headers and a web stream per request.
 */
export const UPSTREAM_PARTS = Symbol.for('weft.edge.upstream-parts');

export interface UpstreamParts {
  headers: Headers;
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null;
}

export function partsOf(res: Response): UpstreamParts | undefined {
  return (res as Response & { [UPSTREAM_PARTS]?: UpstreamParts })[UPSTREAM_PARTS];
}

/** The answer's body as the gateway passes it on (the parts' when the fetch gave them). */
export function bodyOf(res: Response): UpstreamParts['body'] {
  const parts = partsOf(res);
  return parts === undefined ? res.body : parts.body;
}

/** Drops an answer's body that will not be passed on. */
export async function discardBody(res: Response): Promise<void> {
  const b = bodyOf(res);
  if (b !== null && !(b instanceof Uint8Array)) await b.cancel().catch(() => {});
}

/** Headers that describe one connection, never forwarded (RFC 9110 7.6.1). */
export const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer'] as const;

function urlOf(cluster: UpstreamCluster, ep: UpstreamEndpoint, target: string): string {
  const tls = cluster.tls;
  const host = tls?.sni ? tls.sni : ep.address.includes(':') ? `[${ep.address}]` : ep.address;
  return `${tls ? 'https' : 'http'}://${host}:${ep.port}${target}`;
}

/** Fetches from the cluster with the route's timeout and retries; never throws. */
export async function fetchUpstream(f: typeof fetch, a: Attempt, now: () => number): Promise<UpstreamResult> {
  let ep = a.cluster.pick(a.hash);
  if (ep === undefined) return { ok: false, status: 503, body: 'no healthy upstream', endpoint: undefined };
  const retry = a.body === null ? a.retry : undefined;
  for (let attempt = 1; ; attempt++) {
    const ctl = a.timeoutMs > 0 ? new AbortController() : undefined;
    const timer = ctl ? setTimeout(() => ctl.abort(), a.timeoutMs) : undefined;
    let status = 0;
    let reset: 'connect-failure' | 'reset' | undefined;
    let failure = '';
    try {
      const init: RequestInit & { duplex?: 'half' } = { method: a.method, headers: a.headers, body: a.body, redirect: 'manual' };
      if (ctl) init.signal = ctl.signal;
      if (a.body !== null && typeof a.body === 'object' && 'getReader' in a.body) init.duplex = 'half';
      const res = await f(urlOf(a.cluster, ep, a.target), init);
      status = res.status;
      a.cluster.outlier?.report(ep.key, status, now());
      const more = retry !== undefined && attempt <= retry.numRetries && retry.shouldRetry(status);
      if (!more) {
        if (timer !== undefined) clearTimeout(timer); // the timeout bounds the head; the body streams on
        return { ok: true, response: res, endpoint: ep };
      }
      await discardBody(res);
    } catch (e) {
      const timedOut = ctl?.signal.aborted === true;
      failure = timedOut ? 'upstream request timeout' : `upstream connect error or disconnect/reset before headers: ${(e as Error).message}`;
      reset = timedOut ? 'reset' : 'connect-failure';
      status = timedOut ? 504 : 503;
      a.cluster.outlier?.report(ep.key, 503, now());
      const more = retry !== undefined && attempt <= retry.numRetries && retry.shouldRetry(0, reset);
      if (!more) {
        if (timer !== undefined) clearTimeout(timer);
        return { ok: false, status, body: failure, endpoint: ep };
      }
    }
    if (timer !== undefined) clearTimeout(timer);
    const next = a.cluster.pick(a.hash);
    if (next === undefined) return { ok: false, status: 503, body: 'no healthy upstream', endpoint: ep };
    ep = next;
  }
}
