import { describe, expect, test } from 'vitest';
import {
  TAG,
  bitString,
  boolean,
  explicit,
  generalizedTime,
  implicitPrimitive,
  integer,
  nullValue,
  octetString,
  oid,
  printableString,
  sequence,
  setOf,
  tlv,
  utcTime,
  utf8String,
  x509Time,
} from './der-writer.ts';
import { DerError, children, decodeBitString, decodeBoolean, decodeInteger, decodeOid, decodeString, decodeTime, decodeUnsigned, parseDer, readNode } from './der-reader.ts';
import { decodeOidContent, encodeOidContent } from './oid.ts';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));

describe('DER lengths', () => {
  test.each([0, 1, 127, 128, 255, 256, 65535, 65536, 70000])('%i content bytes round-trip with a minimal length', (n) => {
    const enc = tlv(TAG.OCTET_STRING, new Uint8Array(n).fill(7));
    const header = n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 5;
    expect(enc.length).toBe(header + n);
    const node = parseDer(enc);
    expect(node.value.length).toBe(n);
    expect(node.raw.length).toBe(enc.length);
    expect(node.raw.buffer).toBe(enc.buffer); // a view, not a copy
  });

  test('rejects indefinite, non-minimal, truncated and trailing encodings', () => {
    expect(() => parseDer(unhex('3080'))).toThrow(/indefinite/);
    expect(() => parseDer(unhex('04810105'))).toThrow(/non-minimal/);
    expect(() => parseDer(unhex('0482000105'))).toThrow(/non-minimal/);
    expect(() => parseDer(unhex('040301'))).toThrow(DerError);
    expect(() => parseDer(unhex('04'))).toThrow(/truncated/);
    expect(() => parseDer(unhex('0401050000'))).toThrow(/trailing/);
    expect(() => parseDer(unhex('1f0100'))).toThrow(/multi-byte/);
  });
});

describe('INTEGER', () => {
  test.each([
    [0n, '020100'],
    [127n, '02017f'],
    [128n, '02020080'],
    [255n, '020200ff'],
    [256n, '02020100'],
    [2n ** 64n, '0209010000000000000000'],
  ])('%s encodes as %s and decodes back', (v, h) => {
    expect(hex(integer(v))).toBe(h);
    expect(decodeInteger(parseDer(unhex(h)))).toBe(v);
  });

  test('unsigned bytes: leading zeros stripped, zero prefix when the high bit is set', () => {
    expect(hex(integer(unhex('0000ff01')))).toBe('020300ff01');
    expect(hex(integer(unhex('0000')))).toBe('020100');
    expect(decodeUnsigned(parseDer(unhex('020300ff01')))).toEqual(unhex('ff01'));
  });

  test('rejects negative and non-minimal integers on read, negative on write', () => {
    expect(() => decodeInteger(parseDer(unhex('0201ff')))).toThrow(/negative/);
    expect(() => decodeInteger(parseDer(unhex('0202007f')))).toThrow(/non-minimal/);
    expect(() => integer(-1n)).toThrow();
  });
});

describe('OBJECT IDENTIFIER', () => {
  test.each([
    ['1.2.840.113549', '2a864886f70d'],
    ['2.5.29.17', '551d11'],
    ['1.2.840.10045.3.1.7', '2a8648ce3d030107'],
    ['2.999.3', '883703'],
    ['0.9.2342.19200300.100.1.25', '0992268993f22c640119'],
  ])('%s <-> %s', (dotted, h) => {
    expect(hex(encodeOidContent(dotted))).toBe(h);
    expect(decodeOidContent(unhex(h))).toBe(dotted);
    expect(decodeOid(parseDer(oid(dotted)))).toBe(dotted);
  });

  test('rejects malformed OIDs', () => {
    expect(() => encodeOidContent('3.1')).toThrow();
    expect(() => encodeOidContent('1.40')).toThrow();
    expect(() => encodeOidContent('1')).toThrow();
    expect(() => decodeOidContent(unhex('2a86'))).toThrow(/truncated/);
    expect(() => decodeOidContent(unhex('2a8001'))).toThrow(/non-minimal/);
  });
});

describe('BIT STRING, BOOLEAN, NULL, OCTET STRING, strings', () => {
  test('bit strings keep their unused-bit count', () => {
    const b = decodeBitString(parseDer(bitString(unhex('a0'), 5)));
    expect(b).toEqual({ unusedBits: 5, bytes: unhex('a0') });
    expect(() => decodeBitString(parseDer(unhex('030108')))).toThrow();
  });

  test('booleans are 0x00 or 0xff only', () => {
    expect(decodeBoolean(parseDer(boolean(true)))).toBe(true);
    expect(decodeBoolean(parseDer(boolean(false)))).toBe(false);
    expect(() => decodeBoolean(parseDer(unhex('010101')))).toThrow(/BOOLEAN/);
    expect(hex(nullValue())).toBe('0500');
    expect(parseDer(octetString(unhex('0102'))).value).toEqual(unhex('0102'));
  });

  test('strings round-trip, UTF-8 included', () => {
    expect(decodeString(parseDer(utf8String('Wéft ☃')))).toBe('Wéft ☃');
    expect(decodeString(parseDer(printableString('Weft CA')))).toBe('Weft CA');
    expect(() => printableString('é')).toThrow(/non-ASCII/);
    expect(decodeString(parseDer(unhex('1e0400570065')))).toBe('We'); // BMPString
  });
});

describe('times', () => {
  test('UTCTime through 2049, GeneralizedTime from 2050, whole seconds', () => {
    const t2049 = Date.UTC(2049, 11, 31, 23, 59, 59);
    const t2050 = Date.UTC(2050, 0, 1, 0, 0, 0);
    expect(new TextDecoder().decode(parseDer(x509Time(t2049)).value)).toBe('491231235959Z');
    expect(parseDer(x509Time(t2049)).tag).toBe(TAG.UTC_TIME);
    expect(parseDer(x509Time(t2050)).tag).toBe(TAG.GENERALIZED_TIME);
    expect(new TextDecoder().decode(parseDer(x509Time(t2050)).value)).toBe('20500101000000Z');
    expect(decodeTime(parseDer(utcTime(t2049 + 999)))).toBe(t2049);
    expect(decodeTime(parseDer(generalizedTime(t2050)))).toBe(t2050);
    expect(decodeTime(parseDer(utcTime(Date.UTC(1999, 0, 2, 3, 4, 5))))).toBe(Date.UTC(1999, 0, 2, 3, 4, 5));
    expect(() => utcTime(t2050)).toThrow();
    expect(() => decodeTime(parseDer(unhex('170d3939303130323033303430352b')))).toThrow(/bad time/);
  });
});

describe('constructed values', () => {
  test('sequences nest, SET OF sorts its elements, context tags', () => {
    const s = sequence(integer(1), sequence(oid('2.5.29.17'), nullValue()), explicit(3, integer(2)), implicitPrimitive(6, new TextEncoder().encode('x')));
    const [a, b, c, d] = children(parseDer(s));
    expect(decodeInteger(a!)).toBe(1n);
    expect(children(b!).map((n) => n.tag)).toEqual([TAG.OID, TAG.NULL]);
    expect(c!.tag).toBe(0xa3);
    expect(decodeInteger(children(c!)[0]!)).toBe(2n);
    expect(d!.tag).toBe(0x86);
    expect(hex(setOf(integer(2), integer(1)))).toBe('3106020101020102');
  });

  test('children of a primitive node is an error; readNode reads at an offset', () => {
    expect(() => children(parseDer(integer(1)))).toThrow(/not constructed/);
    const two = unhex('020101020102');
    expect(decodeInteger(readNode(two, 3))).toBe(2n);
  });
});
