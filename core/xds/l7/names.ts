/**
 * Names and type URLs the L7 resources use (core/route/README.md, the L7 contract): cluster names with
 * subsets, listener and route configuration names, secret names, filter names.
 */

/** The weighted-cluster entry (or cluster) of a backend that does not resolve: its share gets 500. */
export const INVALID_BACKEND = 'weft.invalid-backend';

const PREFIX = 'type.googleapis.com/';

export const L7_TYPE_URL = {
  httpConnectionManager: `${PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  router: `${PREFIX}envoy.extensions.filters.http.router.v3.Router`,
  fault: `${PREFIX}envoy.extensions.filters.http.fault.v3.HTTPFault`,
  cors: `${PREFIX}envoy.extensions.filters.http.cors.v3.Cors`,
  corsPolicy: `${PREFIX}envoy.extensions.filters.http.cors.v3.CorsPolicy`,
  filterConfig: `${PREFIX}envoy.config.route.v3.FilterConfig`,
  downstreamTls: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
  upstreamTls: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
  httpProtocolOptions: `${PREFIX}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
} as const;

export const FILTER = {
  hcm: 'envoy.filters.network.http_connection_manager',
  fault: 'envoy.filters.http.fault',
  cors: 'envoy.filters.http.cors',
  router: 'envoy.filters.http.router',
  tls: 'envoy.transport_sockets.tls',
  httpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
} as const;

/** `outbound|<port>|<subset>|<hostname>` (subset empty when none), as istiod names outbound clusters. */
export function subsetClusterName(hostname: string, port: number, subset = ''): string {
  return `outbound|${port}|${subset}|${hostname}`;
}

/** A gateway listener: `<address>_<port>`. */
export function gatewayListenerName(address: string, port: number): string {
  return `${address}_${port}`;
}

/**
 * Plain HTTP route configuration of a gateway port: `http.<port>`, or Istio's `http.<port>.<bind>` for
 * a server bound to its own address, so Gateways on one port but different addresses keep their
 * routes apart (servers on the wildcard address share and merge theirs, as istiod's do).
 */
export function httpRouteConfigName(port: number, bind?: string): string {
  return bind && bind !== '0.0.0.0' && bind !== '::' ? `http.${port}.${bind}` : `http.${port}`;
}

/** HTTPS route configuration: Istio's `https.<port>.<serverOrListenerName>.<gatewayName>.<namespace>`. */
export function httpsRouteConfigName(port: number, server: string, gateway: string, namespace: string): string {
  return `https.${port}.${server}.${gateway}.${namespace}`;
}

/** SDS name of a Kubernetes TLS Secret. */
export function secretName(namespace: string, name: string): string {
  return `kubernetes://${namespace}/${name}`;
}

/** Keys of the gateways a proxy may serve: `k8s/<ns>/<name>` (Gateway API), `istio/<ns>/<name>`, `waypoint/<ns>/<name>`. */
export type GatewayKey = string;
export const gatewayKey = (flavor: 'k8s' | 'istio' | 'waypoint', namespace: string, name: string): GatewayKey => `${flavor}/${namespace}/${name}`;
