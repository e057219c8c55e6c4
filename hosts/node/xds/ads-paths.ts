/**
 * The ADS service's method paths and a zero-copy Buffer view: what an xDS client needs without the
 * server's codecs (ads-service.ts decodes requests with core/xds/codec.ts, which loads the Envoy
 * protobuf types a node proxy never uses).
 */
export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const SOTW_PATH = `/${ADS_SERVICE}/StreamAggregatedResources`;
export const DELTA_PATH = `/${ADS_SERVICE}/DeltaAggregatedResources`;

/** A Uint8Array viewed as a Buffer without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
