/**
 * hosts/node/xds: the ADS server of `weft control` (15010 plaintext, 15012 TLS) and the delta ADS
 * client of node proxies. The resources come from core/xds.
 */
export { AdsServer } from './ads-server.ts';
export type { AdsServerOptions, AdsAccess, AdmitNode, Authenticate } from './ads-server.ts';
export type { XdsCaller, SynczEntry, TypeSyncz, NackRecord } from './connection.ts';
export { DeltaXdsClient } from './delta-client.ts';
export type { DeltaClientOptions, XdsUpdate, XdsResourceEntry, AnswerEvent } from './delta-client.ts';
export { adsServiceDefinition, ADS_SERVICE, SOTW_PATH, DELTA_PATH } from './ads-service.ts';
