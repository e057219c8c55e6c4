/**
 * core/route: Envoy RouteConfiguration, Cluster and ClusterLoadAssignment (decoded static protobuf
 * objects) compiled once per config version into matchers and an upstream model (README.md is the
 * contract with the translator in core/xds/l7).
 */
export { compileRoutes, CompiledRoute, RouteTable } from './table.ts';
export type { CompileOptions, VirtualHostTable } from './table.ts';
export { FlatHeaders, RouteCompileError } from './types.ts';
export type { MutableHeaders, RouteRequest } from './types.ts';
export { DirectResponseAction, ForwardAction, INVALID_BACKEND, Mirror, RedirectAction, requestHost } from './actions.ts';
export type { Action, ClusterChoice } from './actions.ts';
export { applyHeaderOps, HeaderOpKind } from './header-ops.ts';
export type { HeaderOp, HeaderOps } from './header-ops.ts';
export { RetryPolicy } from './retry.ts';
export type { ResetKind } from './retry.ts';
export { HashPolicy } from './hash-policy.ts';
export type { CookieToGenerate } from './hash-policy.ts';
export { Fault } from './fault.ts';
export type { FaultAbort } from './fault.ts';
export { Cors, Preflight } from './cors.ts';
export { RegexError, translateRe2 } from './re2.ts';
export { compileCluster, compileClusters, UpstreamCluster } from './clusters.ts';
export type { UpstreamEndpoint, CircuitBreakerLimits, UpstreamModel } from './clusters.ts';
