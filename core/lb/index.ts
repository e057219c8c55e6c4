/**
 * core/lb: picking one endpoint of a service for a new connection (round robin, least
 * connections), skipping unhealthy workloads. Balancers are instances made from a BalancerRegistry.
 */
export type { Balancer, LbEndpoint, PickOptions } from './types.ts';
export { eligible } from './types.ts';
export { RoundRobinBalancer, ROUND_ROBIN_TYPE } from './round-robin-lb.ts';
export { LeastConnectionsBalancer, LEAST_CONNECTIONS_TYPE } from './least-connections-lb.ts';
export { BalancerRegistry, registerBuiltinBalancers } from './registry.ts';
export type { BalancerFactory } from './registry.ts';
