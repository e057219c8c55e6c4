import { describe, expect, it } from 'vitest';
import { meshConfigResource, meshSettingsFromProto } from './mesh-config.ts';
import { istio } from './pb.ts';
import { MESH_CONFIG_NAME, TYPE_URL, isWildcardType } from './type-urls.ts';
import { decodeResource } from './codec.ts';

const mesh = { outboundTrafficPolicy: 'REGISTRY_ONLY' as const, trustDomain: 'example.org', trustDomainAliases: ['old.org'], rootNamespace: 'istio-system' };

describe('MeshConfig resource', () => {
  it('round-trips the four fields with upstream field numbers', () => {
    const r = meshConfigResource(mesh);
    expect(r.typeUrl).toBe(TYPE_URL.meshConfig);
    expect(r.name).toBe(MESH_CONFIG_NAME);
    expect(meshSettingsFromProto(decodeResource(TYPE_URL.meshConfig, r.bytes))).toEqual({ outboundPolicy: 'REGISTRY_ONLY', trustDomain: 'example.org', trustDomainAliases: ['old.org'], rootNamespace: 'istio-system' });
  });

  it('puts fields on upstream numbers (17, 26, 34, 46)', () => {
    const bytes = istio.mesh.v1alpha1.MeshConfig.encode({ outboundTrafficPolicy: { mode: 1 }, trustDomain: 'a', rootNamespace: 'b', trustDomainAliases: ['c'] }).finish();
    // tags: 17<<3|2 = 138 (0x8a 0x01), 26<<3|2 = 210 (0xd2 0x01), 34<<3|2 = 274 (0x92 0x02), 46<<3|2 = 370 (0xf2 0x02)
    expect([...bytes.subarray(0, 2)]).toEqual([0x8a, 0x01]);
    const hex = Buffer.from(bytes).toString('hex');
    for (const tag of ['d201', '9202', 'f202']) expect(hex).toContain(tag);
  });

  it('reads a missing outbound_traffic_policy as ALLOW_ANY and a present one without mode as REGISTRY_ONLY (proto3 zero)', () => {
    expect(meshSettingsFromProto({}).outboundPolicy).toBe('ALLOW_ANY');
    expect(meshSettingsFromProto({ outboundTrafficPolicy: {} }).outboundPolicy).toBe('REGISTRY_ONLY');
    expect(meshSettingsFromProto({ outboundTrafficPolicy: { mode: 1 } }).outboundPolicy).toBe('ALLOW_ANY');
  });

  it('is a wildcard type', () => expect(isWildcardType(TYPE_URL.meshConfig)).toBe(true));
});
