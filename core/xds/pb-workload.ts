/**
 * The node proxy's static protobuf module: Istio's workload API, MeshConfig and the xDS discovery
 * envelope only (scripts/gen-protos.mjs, target workload-pb.js, its own protobuf root). pb.ts holds
 * the same messages plus every Envoy type Weft uses; a node proxy imports this one so that the
 * Envoy types (several MB of heap and code) are never loaded in it. Bytes are the same on the wire,
 * so a message encoded with one module decodes with the other. Static code only (runs in workerd).
 */
export { envoy, google, istio, xds } from './generated/workload-pb.js';
