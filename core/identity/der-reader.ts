/**
 * A strict DER reader (ITU-T X.690): definite minimal lengths, single-byte tags, every length
 * checked against its parent. Nodes are views into the input (no copies), so a parser can hand the
 * exact signed bytes (`raw`) to a verifier. Malformed input throws DerError; parsers above catch it
 * at their boundary and return it as data.
 */
import { decodeOidContent } from './oid.ts';
import { TAG } from './der-writer.ts';

export class DerError extends Error {
  override name = 'DerError';
}

export interface DerNode {
  tag: number;
  /** The content octets. */
  value: Uint8Array;
  /** Tag, length and content: the exact encoding. */
  raw: Uint8Array;
}

export function readNode(buf: Uint8Array, offset = 0): DerNode {
  if (offset + 2 > buf.length) throw new DerError('truncated DER (no room for tag and length)');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte DER tags are not supported');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > 4) throw new DerError('DER length too large');
    if (p + n > buf.length) throw new DerError('truncated DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
    if (len < 0x80 || buf[offset + 2] === 0) throw new DerError('non-minimal DER length');
  }
  if (p + len > buf.length) throw new DerError(`truncated DER value (tag 0x${tag.toString(16)} wants ${len} bytes)`);
  return { tag, value: buf.subarray(p, p + len), raw: buf.subarray(offset, p + len) };
}

/** Parses one whole value; trailing bytes are an error. */
export function parseDer(buf: Uint8Array): DerNode {
  const node = readNode(buf, 0);
  if (node.raw.length !== buf.length) throw new DerError('trailing bytes after DER value');
  return node;
}

export function children(node: DerNode): DerNode[] {
  if ((node.tag & 0x20) === 0) throw new DerError(`tag 0x${node.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  for (let o = 0; o < node.value.length; ) {
    const c = readNode(node.value, o);
    out.push(c);
    o += c.raw.length;
  }
  return out;
}

export function expect(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node) throw new DerError(`${what}: missing`);
  if (node.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${node.tag.toString(16)}`);
  return node;
}

export const decodeOid = (node: DerNode): string => {
  expect(node, TAG.OID, 'OBJECT IDENTIFIER');
  try {
    return decodeOidContent(node.value);
  } catch (err) {
    throw new DerError((err as Error).message);
  }
};

export function decodeBoolean(node: DerNode): boolean {
  expect(node, TAG.BOOLEAN, 'BOOLEAN');
  if (node.value.length !== 1 || (node.value[0] !== 0 && node.value[0] !== 0xff)) throw new DerError('bad DER BOOLEAN');
  return node.value[0] === 0xff;
}

/** Magnitude bytes of a non-negative INTEGER (leading zero dropped). */
export function decodeUnsigned(node: DerNode): Uint8Array {
  expect(node, TAG.INTEGER, 'INTEGER');
  const v = node.value;
  if (v.length === 0) throw new DerError('empty INTEGER');
  if (v[0]! & 0x80) throw new DerError('negative INTEGER');
  if (v.length > 1 && v[0] === 0 && (v[1]! & 0x80) === 0) throw new DerError('non-minimal INTEGER');
  return v[0] === 0 && v.length > 1 ? v.subarray(1) : v;
}

export function decodeInteger(node: DerNode): bigint {
  let n = 0n;
  for (const b of decodeUnsigned(node)) n = (n << 8n) | BigInt(b);
  return n;
}

export function decodeBitString(node: DerNode): { unusedBits: number; bytes: Uint8Array } {
  expect(node, TAG.BIT_STRING, 'BIT STRING');
  const unusedBits = node.value[0];
  if (unusedBits === undefined || unusedBits > 7 || (unusedBits > 0 && node.value.length === 1)) throw new DerError('bad BIT STRING');
  return { unusedBits, bytes: node.value.subarray(1) };
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of any X.509 string type. */
export function decodeString(node: DerNode): string {
  switch (node.tag) {
    case TAG.UTF8_STRING:
      try {
        return utf8.decode(node.value);
      } catch {
        throw new DerError('bad UTF8String');
      }
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.T61_STRING:
      return latin1(node.value);
    case TAG.BMP_STRING: {
      let s = '';
      for (let i = 0; i + 1 < node.value.length; i += 2) s += String.fromCharCode((node.value[i]! << 8) | node.value[i + 1]!);
      return s;
    }
    case TAG.UNIVERSAL_STRING: {
      let s = '';
      const v = node.value;
      for (let i = 0; i + 3 < v.length; i += 4) s += String.fromCodePoint(((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0);
      return s;
    }
    default:
      throw new DerError(`tag 0x${node.tag.toString(16)} is not a string type`);
  }
}

/** UTCTime or GeneralizedTime (the `Z` forms RFC 5280 requires) to epoch milliseconds. */
export function decodeTime(node: DerNode): number {
  const s = latin1(node.value);
  const m =
    node.tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : node.tag === TAG.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (!m) throw new DerError(`bad time ${JSON.stringify(s)}`);
  let year = Number(m[1]);
  if (node.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}
