/**
 * A minimal DER writer (ITU-T X.690): each function returns one complete TLV as a Uint8Array, and
 * constructed values take their already-encoded children. Certificates are a few dozen nodes, so
 * building bottom-up with exact-size copies is simpler and as fast as a growable buffer here.
 */
import { encodeOidContent } from './oid.ts';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const utf8 = new TextEncoder();

import { concatBytes as concat } from '../util/bytes.ts';
export { concat };

/** One TLV with a single-byte tag and a definite, minimal length. */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const len = content.length;
  const lenBytes = len < 0x80 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : len < 0x1000000 ? 4 : 5;
  const out = new Uint8Array(1 + lenBytes + len);
  out[0] = tag;
  if (lenBytes === 1) out[1] = len;
  else {
    out[1] = 0x80 | (lenBytes - 1);
    for (let i = lenBytes - 1, v = len; i >= 1; i--, v = Math.floor(v / 256)) out[1 + i] = v & 0xff;
  }
  out.set(content, 1 + lenBytes);
  return out;
}

export const sequence = (...parts: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, concat(parts));

/** SET OF: DER orders the elements by their encodings (X.690 11.6). */
export function setOf(...parts: Uint8Array[]): Uint8Array {
  const sorted = parts.length > 1 ? [...parts].sort(compareBytes) : parts;
  return tlv(TAG.SET, concat(sorted));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export const oid = (dotted: string): Uint8Array => tlv(TAG.OID, encodeOidContent(dotted));
export const nullValue = (): Uint8Array => Uint8Array.of(TAG.NULL, 0);
export const boolean = (v: boolean): Uint8Array => Uint8Array.of(TAG.BOOLEAN, 1, v ? 0xff : 0);
export const octetString = (bytes: Uint8Array): Uint8Array => tlv(TAG.OCTET_STRING, bytes);
export const utf8String = (s: string): Uint8Array => tlv(TAG.UTF8_STRING, utf8.encode(s));
export const printableString = (s: string): Uint8Array => tlv(TAG.PRINTABLE_STRING, asciiBytes(s));
export const ia5String = (s: string): Uint8Array => tlv(TAG.IA5_STRING, asciiBytes(s));

/** A BIT STRING whose content is whole bytes (keys, signatures) or `unusedBits` short of it. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  const content = new Uint8Array(bytes.length + 1);
  content[0] = unusedBits;
  content.set(bytes, 1);
  return tlv(TAG.BIT_STRING, content);
}

/** A non-negative INTEGER from a bigint, a safe integer, or unsigned big-endian bytes. */
export function integer(value: bigint | number | Uint8Array): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) bytes = value;
  else {
    let v = BigInt(value);
    if (v < 0n) throw new Error('negative INTEGER is not supported');
    const out: number[] = [];
    do {
      out.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    bytes = Uint8Array.from(out);
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const magnitude = bytes.subarray(start);
  if (magnitude.length === 0) return Uint8Array.of(TAG.INTEGER, 1, 0);
  // a set high bit would read as negative: prefix a zero byte
  return tlv(TAG.INTEGER, magnitude[0]! & 0x80 ? concat([Uint8Array.of(0), magnitude]) : magnitude);
}

/** [n] EXPLICIT: a constructed context tag wrapping one encoded value. */
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);
/** [n] IMPLICIT over primitive content (e.g. GeneralName's dNSName, keyIdentifier). */
export const implicitPrimitive = (n: number, content: Uint8Array): Uint8Array => tlv(0x80 | n, content);
/** [n] IMPLICIT over constructed content (e.g. a CSR's attributes SET). */
export const implicitConstructed = (n: number, content: Uint8Array): Uint8Array => tlv(0xa0 | n, content);

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

function timeDigits(ms: number, fullYear: boolean): Uint8Array {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  const year = fullYear ? String(y).padStart(4, '0') : pad2(y % 100);
  return asciiBytes(`${year}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}Z`);
}

export function utcTime(ms: number): Uint8Array {
  const y = new Date(ms).getUTCFullYear();
  if (y < 1950 || y >= 2050) throw new Error(`UTCTime cannot hold year ${y}`);
  return tlv(TAG.UTC_TIME, timeDigits(ms, false));
}

export const generalizedTime = (ms: number): Uint8Array => tlv(TAG.GENERALIZED_TIME, timeDigits(ms, true));

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, always Z. */
export function x509Time(ms: number): Uint8Array {
  const y = new Date(ms).getUTCFullYear();
  return y >= 1950 && y < 2050 ? utcTime(ms) : generalizedTime(ms);
}

/** ASCII text as bytes (IA5String, PrintableString, times); throws on anything wider. */
export function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) throw new Error(`non-ASCII character in ${JSON.stringify(s)}`);
    out[i] = c;
  }
  return out;
}
