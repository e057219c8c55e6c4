import { describe, expect, it } from 'vitest';
import { encodeDeltaDiscoveryRequest } from './codec.ts';
import { EncodedResource } from './encoded-resource.ts';
import { envoy } from './pb.ts';
import { frameDeltaDiscoveryResponse } from './wire.ts';
import { readDeltaDiscoveryResponse } from './wire-reader.ts';

describe('readDeltaDiscoveryResponse', () => {
  it('reads what the framer and protobufjs write', () => {
    const a = new EncodedResource('type.googleapis.com/x.A', 'a/é', new Uint8Array(500).fill(3));
    const framed = readDeltaDiscoveryResponse(frameDeltaDiscoveryResponse('12', 'type.googleapis.com/x.A', 'n9', [a.deltaField], ['gone']));
    expect(framed).toMatchObject({ systemVersionInfo: '12', typeUrl: 'type.googleapis.com/x.A', nonce: 'n9', removedResources: ['gone'] });
    expect(framed.resources).toHaveLength(1);
    expect(framed.resources[0]).toMatchObject({ name: 'a/é', typeUrl: 'type.googleapis.com/x.A' });
    expect(framed.resources[0]!.version).toBe(a.version);
    expect(Array.from(framed.resources[0]!.bytes)).toEqual(Array.from(a.bytes));

    const viaPbjs = envoy.service.discovery.v3.DeltaDiscoveryResponse.encode({
      systemVersionInfo: 'v',
      typeUrl: 't',
      nonce: 'x'.repeat(100),
      resources: [{ name: 'n', version: '1', resource: { typeUrl: 't', value: new Uint8Array([1, 2]) }, aliases: ['al'], ttl: { seconds: 5 } }],
      removedResources: ['r1', 'r2'],
      controlPlane: { identifier: 'cp' },
    }).finish();
    const read = readDeltaDiscoveryResponse(viaPbjs);
    expect(read).toMatchObject({ systemVersionInfo: 'v', typeUrl: 't', nonce: 'x'.repeat(100), removedResources: ['r1', 'r2'] });
    expect(read.resources.map((r) => [r.name, r.version, r.typeUrl, Array.from(r.bytes)])).toEqual([['n', '1', 't', [1, 2]]]);
  });

  it('refuses truncated input', () => {
    const bytes = frameDeltaDiscoveryResponse('1', 't', 'n', [], ['abc']);
    expect(() => readDeltaDiscoveryResponse(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
    expect(encodeDeltaDiscoveryRequest({ typeUrl: 't' }).length).toBeGreaterThan(0);
  });
});
