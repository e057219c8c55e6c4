/**
 * hosts/node/node-proxy: `weft node`'s composition root (NodeProxy) and its parts: the inputs
 * bundle, xDS wiring, outbound and inbound handlers, certificates, pod enrolment, config dump.
 */
export { NodeProxy } from './node-proxy.ts';
export { DEFAULT_PORTS, ConnectionTracker, StateSource, makeBalancer, makeInputs } from './inputs.ts';
export type { CaptureMode, LiveInbound, NodeProxyConfig, NodeProxyInputs } from './inputs.ts';
export { PolicyEnforcer } from './policy-enforcer.ts';
export * from './decisions.ts';
export { OutboundHandler } from './outbound.ts';
export { InboundHandler } from './inbound.ts';
export { CertificateKeeper } from './certificates.ts';
export { Enrolment, type EnrolledPod } from './enrolment.ts';
export { configDump } from './config-dump.ts';
export { startXds, NODE_WATCHES, type XdsWiring } from './xds-wiring.ts';
