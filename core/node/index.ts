/**
 * core/node: the node proxy's pure core. NodeStateStore compiles workload-API resources into an
 * immutable NodeState; planOutbound / planInbound decide what a connection does; DNS answers and
 * HBONE headers come from the same state. The host (hosts/node) does all I/O.
 */
export * from './model.ts';
export { NodeState, ipKey } from './state.ts';
export type { NodeIndexes } from './state.ts';
export { NodeStateStore } from './store.ts';
export type { ApplyResult, NodeResourceUpdate, ResourceError } from './store.ts';
export { compileAddress, compileService, compileWorkload } from './compile-address.ts';
export type { AddressResult } from './compile-address.ts';
export * from './plan.ts';
export { resolveMeshName } from './dns.ts';
export type { DnsAnswer, DnsQuery } from './dns.ts';
export { dumpNodeState } from './dump.ts';
export type { NodeStateDump } from './dump.ts';
export { parseSocketAddress, formatSocketAddress, canonicalIp } from './socket-address.ts';
export type { SocketAddress } from './socket-address.ts';
export { updatesFromResources, NODE_TYPE_URLS } from './from-xds.ts';
