import { describe, expect, it } from 'vitest';
import { decodeDeltaDiscoveryResponse, decodeDiscoveryResponse } from './codec.ts';
import { EncodedResource } from './encoded-resource.ts';
import { contentHash } from './hash.ts';
import { encodeAny, encodeDeltaResource, frameDeltaDiscoveryResponse, frameDiscoveryResponse, lengthDelimited, varintSize } from './wire.ts';

describe('response framing', () => {
  const big = new Uint8Array(300).fill(7);
  const a = new EncodedResource('type.googleapis.com/x.A', 'a', new Uint8Array([1, 2, 3]));
  const b = new EncodedResource('type.googleapis.com/x.A', 'b', big);

  it('frames a DiscoveryResponse that the static decoder reads back', () => {
    const res = decodeDiscoveryResponse(frameDiscoveryResponse('7', 'type.googleapis.com/x.A', 'n1', [a.sotwField, b.sotwField]));
    expect(res.versionInfo).toBe('7');
    expect(res.nonce).toBe('n1');
    expect(res.typeUrl).toBe('type.googleapis.com/x.A');
    expect(res.resources.map((r) => [r.typeUrl, Array.from(r.value!).length])).toEqual([
      ['type.googleapis.com/x.A', 3],
      ['type.googleapis.com/x.A', 300],
    ]);
  });

  it('frames a DeltaDiscoveryResponse with names, versions and removals', () => {
    const res = decodeDeltaDiscoveryResponse(frameDeltaDiscoveryResponse('9', 'type.googleapis.com/x.A', 'n2', [a.deltaField], ['gone', 'also-gone']));
    expect(res.systemVersionInfo).toBe('9');
    expect(res.nonce).toBe('n2');
    expect(res.resources.map((r) => [r.name, r.version, r.resource!.typeUrl])).toEqual([['a', a.version, 'type.googleapis.com/x.A']]);
    expect(res.removedResources).toEqual(['gone', 'also-gone']);
  });

  it('versions by content', () => {
    expect(new EncodedResource('t', 'x', new Uint8Array([1, 2, 3])).version).toBe(a.version);
    expect(contentHash(new Uint8Array([1, 2, 4]))).not.toBe(a.version);
    expect(varintSize(127)).toBe(1);
    expect(varintSize(128)).toBe(2);
    expect(varintSize(2 ** 31)).toBe(5);
  });
});

describe('a resource framed in one allocation', () => {
  it('equals the field-by-field framing, for delta and state of the world', () => {
    for (const value of [new Uint8Array(0), new Uint8Array([9]), new Uint8Array(200).fill(5), new Uint8Array(70000).fill(1)]) {
      const r = new EncodedResource('type.googleapis.com/x.A', 'ns/ñame', value);
      expect(Array.from(r.deltaField)).toEqual(Array.from(lengthDelimited(2, encodeDeltaResource('ns/ñame', r.version, encodeAny('type.googleapis.com/x.A', value)))));
      expect(Array.from(r.sotwField)).toEqual(Array.from(lengthDelimited(2, encodeAny('type.googleapis.com/x.A', value))));
      expect(Array.from(r.bytes)).toEqual(Array.from(value));
    }
  });
});
