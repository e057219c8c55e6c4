/**
 * core/policy: L4 authorization as node proxies enforce it. The control plane's AuthorizationPolicy
 * and PeerAuthentication arrive as `istio.security.Authorization` (core/xds); compile.ts makes them
 * evaluable, evaluate.ts decides one connection. Pure: no I/O.
 */
export { compileAuthorization } from './compile.ts';
export type { CompileResult } from './compile.ts';
export { authorize } from './evaluate.ts';
export type { ApplicablePolicies } from './evaluate.ts';
export { connectionFacts, matchPolicy, inCidr, ipBytes, stringMatches } from './match.ts';
export type { ConnectionFacts, PolicyMatch } from './match.ts';
export type * from './model.ts';
