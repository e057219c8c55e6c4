/**
 * Connection pools per upstream endpoint for the L7 proxy: one Http1Endpoint or H2Endpoint (the
 * engine's pools) per (cluster protocol, endpoint address, tunnel), dialed in plain TCP or, for an
 * HBONE endpoint, as an HBONE CONNECT stream to `<ip>:15008` presenting this proxy's certificate
 * and expecting the endpoint's SPIFFE identity (core/route/README.md, "Endpoints"). Pools of
 * endpoints that left the config are closed on the next reconcile.
 */
import type { UpstreamCluster, UpstreamEndpoint } from '../../../core/route/index.ts';
import type { HboneClient } from '../hbone/index.ts';
import { H2Endpoint, Http1Endpoint, tcpDial, type Dial, type RequestHeadView, type Upstream } from '../l7/index.ts';

const HBONE_PORT = 15008;

export interface UpstreamPoolsOptions {
  hbone: HboneClient;
  /** This proxy's SPIFFE id (the certificate HBONE presents). */
  identity: string;
  /** `forwarded`/`baggage` for HBONE CONNECTs, built once. */
  hboneHeaders?: Readonly<Record<string, string>>;
}

type Pool = (Http1Endpoint | H2Endpoint) & { close?(): void };

/**
 * Where the route handler takes a request's upstream from: one UpstreamPools (a gateway), or a set
 * per downstream client (a waypoint: the HBONE CONNECT's `forwarded` names the client, so an
 * upstream connection serves one client's requests only; waypoint.ts).
 */
export interface PoolSource {
  get(cluster: UpstreamCluster, ep: UpstreamEndpoint, head: RequestHeadView): Upstream;
}

export class UpstreamPools implements PoolSource {
  readonly #pools = new Map<string, Pool>();

  constructor(private readonly o: UpstreamPoolsOptions) {}

  /** The pool for an endpoint of a cluster; made on first use. */
  get(cluster: UpstreamCluster, ep: UpstreamEndpoint): Upstream {
    const h2 = cluster.http2;
    const key = `${h2 ? 'h2' : 'h1'}|${ep.tunnel}|${ep.key}|${ep.identity ?? ''}`;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      const dial = this.#dial(ep, cluster.connectTimeoutMs);
      const opts = { connectTimeoutMs: cluster.connectTimeoutMs, maxConnections: cluster.limits.maxConnections, maxPending: cluster.limits.maxPendingRequests };
      pool = h2 ? new H2Endpoint(ep.key, dial, { connectTimeoutMs: cluster.connectTimeoutMs }) : new Http1Endpoint(ep.key, dial, opts);
      this.#pools.set(key, pool);
    }
    return pool;
  }

  #dial(ep: UpstreamEndpoint, _timeoutMs: number): Dial {
    if (ep.tunnel !== 'HBONE') return tcpDial(ep.address, ep.port);
    const { hbone, identity, hboneHeaders } = this.o;
    const authority = ep.address.includes(':') ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
    return () =>
      hbone
        .connect({
          sourceIdentity: identity,
          destination: { ip: ep.address, port: HBONE_PORT },
          ...(ep.identity ? { expectedIdentities: [ep.identity] } : {}),
          authority,
          ...(hboneHeaders ? { headers: hboneHeaders } : {}),
        })
        .then((t) => t.stream);
  }

  /** Closes pools whose endpoint is in none of `clusters`. */
  retain(clusters: Iterable<UpstreamCluster>): void {
    const live = new Set<string>();
    for (const c of clusters) for (const ep of c.endpoints) live.add(`${c.http2 ? 'h2' : 'h1'}|${ep.tunnel}|${ep.key}|${ep.identity ?? ''}`);
    for (const [key, pool] of this.#pools) {
      if (live.has(key)) continue;
      this.#pools.delete(key);
      pool.close?.();
    }
  }

  get size(): number {
    return this.#pools.size;
  }

  close(): void {
    for (const p of this.#pools.values()) p.close?.();
    this.#pools.clear();
  }
}
