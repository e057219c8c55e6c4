/**
 * X.509 v3 extensions Weft writes and reads (RFC 5280 4.2): subjectAltName, basicConstraints,
 * keyUsage, extKeyUsage, subject/authority key identifiers. Encoders return whole `Extension`
 * TLVs; decoders take the extnValue contents.
 */
import { OID } from './oid.ts';
import { TAG, asciiBytes, bitString, boolean, implicitPrimitive, integer, octetString, oid, sequence } from './der-writer.ts';
import { children, decodeBitString, decodeBoolean, decodeInteger, decodeOid, expect, parseDer, type DerNode } from './der-reader.ts';
import { formatIp as bytesToIp, parseIp as ipToBytes } from '../net/ip.ts';

export type GeneralName =
  | { type: 'uri'; value: string }
  | { type: 'dns'; value: string }
  | { type: 'ip'; value: string }
  | { type: 'email'; value: string }
  | { type: 'other'; tag: number };

export interface Extension {
  oid: string;
  critical: boolean;
  /** extnValue's contents: the DER of the extension's own value. */
  value: Uint8Array;
}

export type KeyUsage = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign';
const KEY_USAGE_BITS: readonly KeyUsage[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign'];

export function encodeExtension(id: string, critical: boolean, valueDer: Uint8Array): Uint8Array {
  return critical ? sequence(oid(id), boolean(true), octetString(valueDer)) : sequence(oid(id), octetString(valueDer));
}

export function encodeGeneralName(n: GeneralName): Uint8Array {
  switch (n.type) {
    case 'uri':
      return implicitPrimitive(6, asciiBytes(n.value));
    case 'dns':
      return implicitPrimitive(2, asciiBytes(n.value));
    case 'email':
      return implicitPrimitive(1, asciiBytes(n.value));
    case 'ip': {
      const bytes = ipToBytes(n.value);
      if (!bytes) throw new Error(`not an IP address: ${n.value}`);
      return implicitPrimitive(7, bytes);
    }
    case 'other':
      throw new Error('cannot encode an unknown GeneralName');
  }
}

/** SPIFFE X509-SVID 4.1: with an empty subject, the SAN extension must be critical (RFC 5280 4.2.1.6). */
export const subjectAltName = (names: readonly GeneralName[], critical: boolean): Uint8Array =>
  encodeExtension(OID.subjectAltName, critical, sequence(...names.map(encodeGeneralName)));

export function basicConstraints(ca: boolean, pathLen?: number): Uint8Array {
  const parts = ca ? [boolean(true), ...(pathLen === undefined ? [] : [integer(pathLen)])] : [];
  return encodeExtension(OID.basicConstraints, true, sequence(...parts));
}

/** keyUsage as a DER named-bit BIT STRING: trailing zero bits dropped (X.690 11.2.2). */
export function keyUsage(usages: readonly KeyUsage[]): Uint8Array {
  let bits = 0;
  for (const u of usages) bits |= 0x80 >> KEY_USAGE_BITS.indexOf(u);
  let unused = 0;
  while (unused < 7 && ((bits >> unused) & 1) === 0) unused++;
  return encodeExtension(OID.keyUsage, true, bitString(Uint8Array.of(bits), unused));
}

export const extKeyUsage = (purposes: readonly string[]): Uint8Array => encodeExtension(OID.extKeyUsage, false, sequence(...purposes.map(oid)));
export const subjectKeyIdentifier = (id: Uint8Array): Uint8Array => encodeExtension(OID.subjectKeyIdentifier, false, octetString(id));
export const authorityKeyIdentifier = (id: Uint8Array): Uint8Array => encodeExtension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, id)));

/** `Extensions ::= SEQUENCE OF Extension`. */
export function parseExtensions(node: DerNode): Extension[] {
  return children(expect(node, TAG.SEQUENCE, 'Extensions')).map((ext) => {
    const parts = children(expect(ext, TAG.SEQUENCE, 'Extension'));
    const id = decodeOid(parts[0]!);
    const critical = parts.length === 3 ? decodeBoolean(parts[1]!) : false;
    const value = expect(parts[parts.length - 1], TAG.OCTET_STRING, `extension ${id} value`).value;
    return { oid: id, critical, value };
  });
}

const latin1 = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
};

export function decodeGeneralNames(value: Uint8Array): GeneralName[] {
  return children(expect(parseDer(value), TAG.SEQUENCE, 'GeneralNames')).map((n): GeneralName => {
    switch (n.tag) {
      case 0x86:
        return { type: 'uri', value: latin1(n.value) };
      case 0x82:
        return { type: 'dns', value: latin1(n.value) };
      case 0x81:
        return { type: 'email', value: latin1(n.value) };
      case 0x87:
        return { type: 'ip', value: bytesToIp(n.value) };
      default:
        return { type: 'other', tag: n.tag };
    }
  });
}

export function decodeBasicConstraints(value: Uint8Array): { ca: boolean; pathLen?: number } {
  const parts = children(expect(parseDer(value), TAG.SEQUENCE, 'BasicConstraints'));
  const ca = parts[0]?.tag === TAG.BOOLEAN ? decodeBoolean(parts[0]) : false;
  const len = parts.find((p) => p.tag === TAG.INTEGER);
  return len ? { ca, pathLen: Number(decodeInteger(len)) } : { ca };
}

export function decodeKeyUsage(value: Uint8Array): KeyUsage[] {
  const { bytes } = decodeBitString(parseDer(value));
  return KEY_USAGE_BITS.filter((_, i) => ((bytes[0] ?? 0) & (0x80 >> i)) !== 0);
}

export const decodeExtKeyUsage = (value: Uint8Array): string[] => children(expect(parseDer(value), TAG.SEQUENCE, 'ExtKeyUsage')).map(decodeOid);
export const decodeSubjectKeyIdentifier = (value: Uint8Array): Uint8Array => expect(parseDer(value), TAG.OCTET_STRING, 'SubjectKeyIdentifier').value;

export function decodeAuthorityKeyIdentifier(value: Uint8Array): Uint8Array | undefined {
  return children(expect(parseDer(value), TAG.SEQUENCE, 'AuthorityKeyIdentifier')).find((p) => p.tag === 0x80)?.value;
}
