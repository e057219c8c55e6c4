/**
 * The ADS gRPC service (envoy.service.discovery.v3.AggregatedDiscoveryService), defined by hand with
 * the static codecs of core/xds: no proto is loaded at run time. Server side, requests arrive
 * decoded and responses leave as bytes framed by core/xds/wire.ts; client side, the reverse.
 * Spec: envoy/service/discovery/v3/ads.proto.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { decodeDeltaDiscoveryRequest, decodeDeltaDiscoveryResponse, decodeDiscoveryRequest, decodeDiscoveryResponse } from '../../../core/xds/codec.ts';

import { DELTA_PATH, SOTW_PATH, asBuffer } from './ads-paths.ts';

export { ADS_SERVICE, DELTA_PATH, SOTW_PATH, asBuffer } from './ads-paths.ts';

const passBytes = (b: Uint8Array): Buffer => asBuffer(b);

/** Server side: decoded requests in, pre-encoded responses (Uint8Array) out. */
export const adsServiceDefinition: ServiceDefinition = {
  StreamAggregatedResources: {
    path: SOTW_PATH,
    requestStream: true,
    responseStream: true,
    originalName: 'streamAggregatedResources',
    requestSerialize: passBytes,
    requestDeserialize: (b: Buffer) => decodeDiscoveryRequest(b),
    responseSerialize: passBytes,
    responseDeserialize: (b: Buffer) => decodeDiscoveryResponse(b),
  },
  DeltaAggregatedResources: {
    path: DELTA_PATH,
    requestStream: true,
    responseStream: true,
    originalName: 'deltaAggregatedResources',
    requestSerialize: passBytes,
    requestDeserialize: (b: Buffer) => decodeDeltaDiscoveryRequest(b),
    responseSerialize: passBytes,
    responseDeserialize: (b: Buffer) => decodeDeltaDiscoveryResponse(b),
  },
};
