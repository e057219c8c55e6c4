/**
 * The CNI hook (design.md 1, 3): `weft cni add|del` tells the local node proxy, over its Unix socket,
 * where a pod's network namespace is; CniServer is the node proxy's end.
 */
export { CniServer, type CniServerOptions, type CniResult } from './server.ts';
export { cniCall } from './client.ts';
export { DEFAULT_CNI_SOCKET, CNI_PATHS, parseCniRequest, podRefError, type CniOp, type CniRequest, type CniResponse } from './protocol.ts';
