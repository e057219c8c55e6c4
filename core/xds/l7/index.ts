/**
 * core/xds/l7: Gateway API and Istio traffic resources -> the Envoy v3 resources of the L7 contract
 * (core/route/README.md) for gateways, waypoints and proxyless clients.
 */
export { L7Translation } from './translate-l7.ts';
export type { ScopedResources } from './translate-l7.ts';
export { l7ProxyOf, GATEWAY_NAME_LABEL } from './scope.ts';
export type { L7Proxy } from './scope.ts';
export { INVALID_BACKEND, L7_TYPE_URL, FILTER, subsetClusterName, gatewayListenerName, httpRouteConfigName, httpsRouteConfigName, secretName, gatewayKey } from './names.ts';
export type { GatewayKey } from './names.ts';
export { httpRouteRoutes, grpcRouteRoutes, sortRanked, compareRanked } from './routes-gateway-api.ts';
export { virtualServiceRoutes, ISTIO_DEFAULT_RETRY } from './routes-virtual-service.ts';
export { l7Cluster, isHttp2Port, OUTLIER_DEFAULTS } from './clusters.ts';
export { l7LoadAssignment, istioWorkloadMetadata } from './endpoints.ts';
export { tlsSecret } from './secrets.ts';
export { httpConnectionManager, gatewayListeners, waypointListener } from './listeners.ts';
