/**
 * The MeshConfig resource node proxies receive beside the workload API, which has no field for the
 * outbound traffic policy (ALLOW_ANY / REGISTRY_ONLY) or the trust domain: Istio's own message
 * (`istio.mesh.v1alpha1.MeshConfig`, proto/istio/mesh/v1alpha1/config.proto, upstream field
 * numbers), pruned to four fields, served as one resource named `mesh` on the same ADS stream.
 *
 * proto3 caveat kept from upstream: OutboundTrafficPolicy.Mode's zero value is REGISTRY_ONLY, so
 * the translator always writes the message, and a reader treats a missing message as ALLOW_ANY.
 */
import type { MeshSettings } from '../config/snapshot.ts';
import { EncodedResource } from './encoded-resource.ts';
import { istio } from './pb-workload.ts';
import type { MeshConfigProto } from './pb.ts';
import { MESH_CONFIG_NAME, TYPE_URL } from './type-urls.ts';

const Mode = istio.mesh.v1alpha1.MeshConfig.OutboundTrafficPolicy.Mode;

/** What a node proxy reads out of the MeshConfig resource. */
export interface MeshConfigFields {
  outboundPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  trustDomain: string;
  trustDomainAliases: string[];
  rootNamespace: string;
}

export function meshConfigProto(mesh: Pick<MeshSettings, 'outboundTrafficPolicy' | 'trustDomain' | 'trustDomainAliases' | 'rootNamespace'>): MeshConfigProto {
  return {
    outboundTrafficPolicy: { mode: mesh.outboundTrafficPolicy === 'REGISTRY_ONLY' ? Mode.REGISTRY_ONLY : Mode.ALLOW_ANY },
    trustDomain: mesh.trustDomain,
    trustDomainAliases: [...mesh.trustDomainAliases],
    rootNamespace: mesh.rootNamespace,
  };
}

/** The `mesh` resource for a snapshot's settings. */
export function meshConfigResource(mesh: Pick<MeshSettings, 'outboundTrafficPolicy' | 'trustDomain' | 'trustDomainAliases' | 'rootNamespace'>): EncodedResource {
  return new EncodedResource(TYPE_URL.meshConfig, MESH_CONFIG_NAME, istio.mesh.v1alpha1.MeshConfig.encode(meshConfigProto(mesh)).finish());
}

/** A decoded MeshConfig -> the node's settings (Istio's defaults for what is absent). */
export function meshSettingsFromProto(m: MeshConfigProto): MeshConfigFields {
  const mode = m.outboundTrafficPolicy ? (m.outboundTrafficPolicy.mode ?? Mode.REGISTRY_ONLY) : Mode.ALLOW_ANY;
  return {
    outboundPolicy: mode === Mode.REGISTRY_ONLY ? 'REGISTRY_ONLY' : 'ALLOW_ANY',
    trustDomain: m.trustDomain || 'cluster.local',
    trustDomainAliases: [...(m.trustDomainAliases ?? [])],
    rootNamespace: m.rootNamespace || 'istio-system',
  };
}
