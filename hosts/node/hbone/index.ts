/**
 * hosts/node/hbone: HBONE as ztunnel speaks it (mutual TLS 1.3, ALPN h2, HTTP/2 CONNECT to
 * `ip:port`), the pooled client, and the inbound server (tunnels are spliced to sockets by hosts/node/servers/splice.ts).
 * See README.md for the wire details and the choices made.
 */
export { HboneClient, type ClientCertificates, type ConnectOptions, type HboneClientOptions, type HboneTunnel, type PoolStats } from './client.ts';
export { HboneServer, type ConnectionInfo, type HboneServerOptions, type RefusalEvent, type ServerCertificate } from './server.ts';
export { InboundTunnel } from './inbound-tunnel.ts';
export { HboneError, type HboneReason } from './errors.ts';
export { formatAuthority, parseAuthority, type HboneTarget, type ParsedAuthority } from './authority.ts';
export { checkPeerIdentity, uriSans } from './peer-identity.ts';
export * from './constants.ts';
