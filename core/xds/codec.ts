/**
 * Encoding and decoding of the discovery messages and resources, for the ADS server and for xDS
 * clients (the node proxy's delta client, tests, the control-plane benchmark).
 */
import { envoy, istio } from './pb.ts';
import type { NodeProto } from './pb.ts';
import { TYPE_URL } from './type-urls.ts';
import { structToJson, type JsonValue } from './discovery-codec.ts';

const discovery = envoy.service.discovery.v3;

export type DiscoveryRequest = envoy.service.discovery.v3.DiscoveryRequest;
export type DiscoveryResponse = envoy.service.discovery.v3.DiscoveryResponse;
export type DeltaDiscoveryRequest = envoy.service.discovery.v3.DeltaDiscoveryRequest;
export type DeltaDiscoveryResponse = envoy.service.discovery.v3.DeltaDiscoveryResponse;

export const decodeDiscoveryRequest = (bytes: Uint8Array): DiscoveryRequest => discovery.DiscoveryRequest.decode(bytes);
export const decodeDiscoveryResponse = (bytes: Uint8Array): DiscoveryResponse => discovery.DiscoveryResponse.decode(bytes);
export const decodeDeltaDiscoveryRequest = (bytes: Uint8Array): DeltaDiscoveryRequest => discovery.DeltaDiscoveryRequest.decode(bytes);
export const decodeDeltaDiscoveryResponse = (bytes: Uint8Array): DeltaDiscoveryResponse => discovery.DeltaDiscoveryResponse.decode(bytes);

export const encodeDiscoveryRequest = (req: envoy.service.discovery.v3.DiscoveryRequest.$Properties): Uint8Array =>
  discovery.DiscoveryRequest.encode(req).finish();
export const encodeDeltaDiscoveryRequest = (req: envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties): Uint8Array =>
  discovery.DeltaDiscoveryRequest.encode(req).finish();
export const encodeDiscoveryResponse = (res: envoy.service.discovery.v3.DiscoveryResponse.$Properties): Uint8Array =>
  discovery.DiscoveryResponse.encode(res).finish();

/** Decoders of the resource types Weft serves, by type URL. */
export const RESOURCE_DECODERS: Readonly<Record<string, (bytes: Uint8Array) => object>> = {
  [TYPE_URL.listener]: (b) => envoy.config.listener.v3.Listener.decode(b),
  [TYPE_URL.route]: (b) => envoy.config.route.v3.RouteConfiguration.decode(b),
  [TYPE_URL.cluster]: (b) => envoy.config.cluster.v3.Cluster.decode(b),
  [TYPE_URL.endpoint]: (b) => envoy.config.endpoint.v3.ClusterLoadAssignment.decode(b),
  [TYPE_URL.secret]: (b) => envoy.extensions.transport_sockets.tls.v3.Secret.decode(b),
  [TYPE_URL.address]: (b) => istio.workload.Address.decode(b),
  [TYPE_URL.meshConfig]: (b) => istio.mesh.v1alpha1.MeshConfig.decode(b),
  [TYPE_URL.authorization]: (b) => istio.security.Authorization.decode(b),
  [TYPE_URL.extensionConfig]: (b) => envoy.config.core.v3.TypedExtensionConfig.decode(b),
};

/** Decodes one resource by its type URL; throws on an unknown type or malformed bytes. */
export function decodeResource(typeUrl: string, bytes: Uint8Array): object {
  const decode = RESOURCE_DECODERS[typeUrl];
  if (!decode) throw new Error(`no decoder for resource type ${typeUrl}`);
  return decode(bytes);
}

export { jsonToStruct, structToJson, type JsonValue } from './discovery-codec.ts';

/** What a control plane shows about a client's node (syncz, logs). */
export interface NodeInfo {
  id: string;
  cluster: string;
  metadata: Record<string, JsonValue>;
  locality?: { region: string; zone: string; subZone: string };
  userAgent: string;
  clientFeatures: string[];
}

export function nodeInfo(node: NodeProto | null | undefined): NodeInfo {
  const loc = node?.locality;
  const info: NodeInfo = {
    id: node?.id ?? '',
    cluster: node?.cluster ?? '',
    metadata: structToJson(node?.metadata),
    userAgent: [node?.userAgentName, node?.userAgentVersion].filter(Boolean).join('/'),
    clientFeatures: [...(node?.clientFeatures ?? [])],
  };
  if (loc) info.locality = { region: loc.region ?? '', zone: loc.zone ?? '', subZone: loc.subZone ?? '' };
  return info;
}
