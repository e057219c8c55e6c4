import { describe, expect, test } from 'vitest';
import { base64Decode, base64Encode, pemDecodeAll, pemEncode } from './pem.ts';
import { formatIp as bytesToIp, parseIp as ipToBytes } from '../net/ip.ts';

const enc = new TextEncoder();

describe('base64 and PEM', () => {
  test.each([
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
  ])('RFC 4648 vector %j', (text, b64) => {
    expect(base64Encode(enc.encode(text))).toBe(b64);
    expect(new TextDecoder().decode(base64Decode(b64))).toBe(text);
  });

  test('base64url, whitespace and bad characters', () => {
    const bytes = Uint8Array.of(0xfb, 0xff, 0xfe);
    expect(base64Encode(bytes, true)).toBe('-__-');
    expect(base64Decode('-__-')).toEqual(bytes);
    expect(base64Decode('+//+\n')).toEqual(bytes);
    expect(() => base64Decode('ab$c')).toThrow(/invalid base64/);
  });

  test('PEM blocks round-trip, several per file, text between them skipped', () => {
    const der = Uint8Array.from({ length: 200 }, (_, i) => i);
    const pem = pemEncode('CERTIFICATE', der);
    expect(pem.split('\n')[1]!.length).toBe(64);
    const two = `subject=foo\n${pem}junk\n${pemEncode('PRIVATE KEY', Uint8Array.of(1, 2))}`;
    const blocks = pemDecodeAll(two);
    expect(blocks.map((b) => b.label)).toEqual(['CERTIFICATE', 'PRIVATE KEY']);
    expect(blocks[0]!.der).toEqual(der);
    expect(() => pemDecodeAll('-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----')).toThrow(/headers/);
  });
});

describe('IP addresses', () => {
  test.each([
    ['10.0.0.1', '10.0.0.1'],
    ['::1', '::1'],
    ['fd00::1', 'fd00::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:1.2.3.4', '::ffff:102:304'],
    ['::', '::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ])('%s -> bytes -> %s', (text, back) => {
    const b = ipToBytes(text);
    expect(b).toBeDefined();
    expect(bytesToIp(b!)).toBe(back);
  });

  test.each(['1.2.3', '256.1.1.1', '01.2.3.4', '1::2::3', ':::', '1:2:3:4:5:6:7:8:9', 'fe80::g', 'localhost'])('%s is not an address', (text) => {
    expect(ipToBytes(text)).toBeUndefined();
  });
});
