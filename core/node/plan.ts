/**
 * The node proxy's planners (conventions.md 5): planOutbound for captured, SOCKS5 and CONNECT
 * clients, planInbound for HBONE (15008) and plaintext (15006) arrivals, and the HBONE request
 * headers a plan needs. Pure: they read a NodeState and return data.
 */
export { planOutbound } from './plan-outbound.ts';
export type { OutboundOptions } from './plan-outbound.ts';
export { planInbound } from './plan-inbound.ts';
export { hboneHeaders, baggageFor, forwardedFor, forwardedClient, inboundSource, parseBaggage } from './hbone-headers.ts';
export type * from './plan-types.ts';
export { revokedConnections, authorizationMayHaveChanged, workloadAuthorizationChanged } from './reauthorize.ts';
export type { AdmittedConnection, RevokedPlan } from './reauthorize.ts';
