/**
 * Istio's request metrics series of an L7 proxy, one RequestSeriesGroup per (cluster, endpoint,
 * downstream identity), made once and reused: the labels are built on the first request of a
 * series, not on every request.
 */
import type { UpstreamCluster, UpstreamEndpoint } from '../../../core/route/index.ts';
import type { HttpMetrics, RequestSeriesGroup } from '../../../core/telemetry/index.ts';
import { tcpLabels } from '../../../core/telemetry/index.ts';
import type { DownstreamPeer } from '../l7/index.ts';
import type { RouteHandlerOptions } from './route-handler.ts';

export class RequestSeriesIndex {
  readonly #groups = new Map<string, RequestSeriesGroup>();

  constructor(
    private readonly metrics: HttpMetrics,
    private readonly self: RouteHandlerOptions['self'],
  ) {}

  group(cluster: UpstreamCluster | undefined, ep: UpstreamEndpoint | undefined, src: DownstreamPeer | undefined): RequestSeriesGroup {
    const key = src === undefined ? `${cluster?.name ?? ''}|${ep?.key ?? ''}` : `${cluster?.name ?? ''}|${ep?.key ?? ''}|${src.peerPrincipal ?? ''}|${src.workload ?? ''}|${src.namespace ?? ''}`;
    let g = this.#groups.get(key);
    if (g === undefined) {
      const self = this.self;
      // a waypoint: the downstream is the source (Istio's waypoint metrics); a gateway: itself
      const source = self.reporter === 'waypoint' ? { workload: src?.workload ?? 'unknown', namespace: src?.namespace ?? '', principal: src?.peerPrincipal ?? 'unknown' } : { workload: self.workload, namespace: self.namespace, principal: self.principal };
      const w = ep?.workload;
      const host = cluster?.name.split('|')[3];
      const { response_flags: _f, ...labels } = tcpLabels({
        reporter: 'source',
        source,
        ...(w ? { destination: { workload: w.name, namespace: w.namespace, canonicalService: w.canonicalName, canonicalRevision: w.revision, cluster: w.cluster, ...(ep?.identity ? { principal: ep.identity } : {}) } } : {}),
        ...(host ? { service: { hostname: host, name: host.split('.')[0]!, namespace: host.split('.')[1] ?? '' } } : {}),
        securityPolicy: ep?.tunnel === 'HBONE' ? 'mutual_tls' : 'unknown',
        protocol: 'http',
      });
      g = this.metrics.group({ ...labels, reporter: self.reporter as 'source' });
      this.#groups.set(key, g);
    }
    return g;
  }
}

/** grpc-status for the metrics, from the HTTP status when the upstream's trailers are not read. */
export function grpcOf(status: number): number {
  return status === 200 ? 0 : status === 503 ? 14 : status === 504 ? 4 : 2;
}
