/**
 * Hand framing of the discovery responses from pre-encoded parts. A push writes the same resource
 * to many streams, so each resource is encoded once (as an Any for state of the world, as a
 * Resource for delta) and a response is its chunks concatenated behind a few header fields:
 * protobuf fields may come in any order and repeated message fields are just repeated chunks.
 * Field numbers: envoy/service/discovery/v3/discovery.proto.
 */

const utf8 = new TextEncoder();

const WIRE_LEN = 2;

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

/** One length-delimited field (tag, length, bytes). */
export function lengthDelimited(field: number, bytes: Uint8Array): Uint8Array {
  const tag = (field << 3) | WIRE_LEN;
  const out = new Uint8Array(varintSize(tag) + varintSize(bytes.length) + bytes.length);
  let pos = writeVarint(out, 0, tag);
  pos = writeVarint(out, pos, bytes.length);
  out.set(bytes, pos);
  return out;
}

/** A string field, or nothing for '' (proto3 default). */
export function stringField(field: number, value: string): Uint8Array {
  return value === '' ? EMPTY : lengthDelimited(field, utf8.encode(value));
}

export const EMPTY = new Uint8Array(0);

import { concatBytes as concat } from '../util/bytes.ts';
export { concat };

/** google.protobuf.Any: type_url = 1, value = 2. */
export function encodeAny(typeUrl: string, value: Uint8Array): Uint8Array {
  return concat([stringField(1, typeUrl), value.length ? lengthDelimited(2, value) : EMPTY]);
}

/** envoy.service.discovery.v3.Resource: version = 1, resource = 2 (Any), name = 3. */
export function encodeDeltaResource(name: string, version: string, any: Uint8Array): Uint8Array {
  return concat([stringField(1, version), lengthDelimited(2, any), stringField(3, name)]);
}

/**
 * A delta `resources` entry in one allocation: field 2 of DeltaDiscoveryResponse holding a Resource
 * (version = 1, resource = 2 an Any (type_url = 1, value = 2), name = 3). Returns it with the offsets
 * of the Resource's field 2 (which is, byte for byte, the `resources` entry of a state-of-the-world
 * DiscoveryResponse) and of the value.
 */
export function frameDeltaResource(name: string, version: string, typeUrl: string, value: Uint8Array): { field: Uint8Array; anyField: number; value: number } {
  const nameBytes = utf8.encode(name);
  const versionBytes = utf8.encode(version);
  const typeBytes = utf8.encode(typeUrl);
  const fieldSize = (n: number) => 1 + varintSize(n) + n;
  const anySize = (typeBytes.length ? fieldSize(typeBytes.length) : 0) + (value.length ? fieldSize(value.length) : 0);
  const resourceSize = (versionBytes.length ? fieldSize(versionBytes.length) : 0) + fieldSize(anySize) + (nameBytes.length ? fieldSize(nameBytes.length) : 0);
  const out = new Uint8Array(fieldSize(resourceSize));
  let pos = 0;
  const header = (field: number, length: number) => {
    out[pos++] = (field << 3) | WIRE_LEN;
    pos = writeVarint(out, pos, length);
  };
  const bytes = (field: number, b: Uint8Array) => {
    if (b.length === 0) return;
    header(field, b.length);
    out.set(b, pos);
    pos += b.length;
  };
  header(2, resourceSize);
  bytes(1, versionBytes);
  const anyField = pos;
  header(2, anySize);
  bytes(1, typeBytes);
  let valueAt = pos;
  if (value.length) {
    header(2, value.length);
    valueAt = pos;
    out.set(value, pos);
    pos += value.length;
  }
  bytes(3, nameBytes);
  return { field: out, anyField, value: valueAt };
}

/**
 * DiscoveryResponse: version_info = 1, resources = 2 (each chunk already framed as field 2),
 * type_url = 4, nonce = 5.
 */
export function frameDiscoveryResponse(versionInfo: string, typeUrl: string, nonce: string, resourceFields: readonly Uint8Array[]): Uint8Array {
  return concat([stringField(1, versionInfo), ...resourceFields, stringField(4, typeUrl), stringField(5, nonce)]);
}

/**
 * DeltaDiscoveryResponse: system_version_info = 1, resources = 2 (pre-framed), type_url = 4,
 * nonce = 5, removed_resources = 6.
 */
export function frameDeltaDiscoveryResponse(
  systemVersion: string,
  typeUrl: string,
  nonce: string,
  resourceFields: readonly Uint8Array[],
  removed: readonly string[],
): Uint8Array {
  return concat([
    stringField(1, systemVersion),
    ...resourceFields,
    stringField(4, typeUrl),
    stringField(5, nonce),
    ...removed.map((name) => lengthDelimited(6, utf8.encode(name))),
  ]);
}
