/**
 * X.509 v3 certificates (RFC 5280 4.1): build a TBSCertificate from already-encoded parts, and
 * parse a certificate into the fields the CA needs (its subject bytes to copy into leaves' issuer,
 * its key identifier, validity, constraints). Hand-written because an X.509 library cost 6 ms per
 * certificate here against a goal of 1,000 certificates a second; the host signs the result.
 */
import { OID } from './oid.ts';
import { TAG, explicit, integer, sequence, x509Time } from './der-writer.ts';
import { DerError, children, decodeBitString, decodeInteger, decodeTime, decodeUnsigned, expect, parseDer } from './der-reader.ts';
import { decodeName, type NameAttribute } from './x509-name.ts';
import { parsePublicKeyInfo, parseSignatureAlgorithm, type KeyAlgorithm, type PublicKeyInfo, type SignatureAlgorithm } from './key-info.ts';
import {
  authorityKeyIdentifier,
  basicConstraints,
  decodeAuthorityKeyIdentifier,
  decodeBasicConstraints,
  decodeGeneralNames,
  decodeSubjectKeyIdentifier,
  extKeyUsage,
  keyUsage,
  parseExtensions,
  subjectAltName,
  subjectKeyIdentifier,
  type Extension,
  type GeneralName,
  type KeyUsage,
} from './extensions.ts';

export interface TbsInput {
  /** Unsigned big-endian serial, at most 20 octets (RFC 5280 4.1.2.2); the host draws it at random. */
  serial: Uint8Array;
  /** The issuer's signature AlgorithmIdentifier (key-info.ts issuerSignature). */
  signatureAlgorithm: Uint8Array;
  /** Name DER; for a leaf, the issuing CA's subject bytes exactly. */
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  /** Encoded Extension TLVs, in the order they should appear. */
  extensions: readonly Uint8Array[];
}

export function buildTbsCertificate(t: TbsInput): Uint8Array {
  if (t.serial.length > 20) throw new Error('serial numbers are at most 20 octets');
  if (t.notAfter <= t.notBefore) throw new Error('notAfter must be after notBefore');
  return sequence(
    explicit(0, integer(2)), // v3
    integer(t.serial),
    t.signatureAlgorithm,
    t.issuer,
    sequence(x509Time(t.notBefore), x509Time(t.notAfter)),
    t.subject,
    t.spki,
    ...(t.extensions.length ? [explicit(3, sequence(...t.extensions))] : []),
  );
}

export interface LeafProfile {
  sans: readonly GeneralName[];
  /** True when the subject is empty: the SAN extension is then critical (SPIFFE X509-SVID 4.1). */
  emptySubject: boolean;
  /** `workload`: serverAuth + clientAuth (mTLS both ways); `server`: serverAuth only. */
  usage: 'workload' | 'server';
  key: KeyAlgorithm;
  subjectKeyId?: Uint8Array;
  authorityKeyId?: Uint8Array;
}

/** The extensions of an end-entity certificate, as Istio's workload certificates carry them. */
export function leafExtensions(p: LeafProfile): Uint8Array[] {
  // keyEncipherment only means something for RSA key transport; EC keys sign (RFC 5480 3)
  const usages: KeyUsage[] = p.key.kind === 'rsa' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
  return [
    keyUsage(usages),
    extKeyUsage(p.usage === 'workload' ? [OID.serverAuth, OID.clientAuth] : [OID.serverAuth]),
    basicConstraints(false),
    ...(p.subjectKeyId ? [subjectKeyIdentifier(p.subjectKeyId)] : []),
    ...(p.authorityKeyId ? [authorityKeyIdentifier(p.authorityKeyId)] : []),
    subjectAltName(p.sans, p.emptySubject),
  ];
}

/** The extensions of a CA certificate (Istio's tools/certs root-ca.conf and intermediate.conf). */
export function caExtensions(p: { pathLen?: number; subjectKeyId: Uint8Array; authorityKeyId?: Uint8Array }): Uint8Array[] {
  return [
    basicConstraints(true, p.pathLen),
    keyUsage(['digitalSignature', 'keyCertSign', 'cRLSign']),
    subjectKeyIdentifier(p.subjectKeyId),
    ...(p.authorityKeyId ? [authorityKeyIdentifier(p.authorityKeyId)] : []),
  ];
}

export interface ParsedCertificate {
  tbs: Uint8Array;
  serial: Uint8Array;
  signatureAlgorithm: SignatureAlgorithm;
  signature: Uint8Array;
  issuer: NameAttribute[];
  issuerDer: Uint8Array;
  subject: NameAttribute[];
  subjectDer: Uint8Array;
  notBefore: number;
  notAfter: number;
  publicKey: PublicKeyInfo;
  extensions: Extension[];
  basicConstraints?: { ca: boolean; pathLen?: number };
  subjectKeyId?: Uint8Array;
  authorityKeyId?: Uint8Array;
  sans: GeneralName[];
}

/** Parses a DER certificate; throws DerError on malformed input (certificates come from trusted files). */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const [tbsNode, sigAlg, sig] = children(expect(parseDer(der), TAG.SEQUENCE, 'Certificate'));
  const tbs = expect(tbsNode, TAG.SEQUENCE, 'TBSCertificate');
  const parts = children(tbs);
  let i = 0;
  if (parts[0]?.tag === 0xa0) {
    const v = decodeInteger(expect(children(parts[0])[0], TAG.INTEGER, 'version'));
    if (v > 2n) throw new DerError(`unknown certificate version ${v + 1n}`);
    i = 1;
  }
  const serial = decodeUnsigned(expect(parts[i], TAG.INTEGER, 'serialNumber'));
  const issuerNode = expect(parts[i + 2], TAG.SEQUENCE, 'issuer');
  const [nb, na] = children(expect(parts[i + 3], TAG.SEQUENCE, 'validity'));
  const subjectNode = expect(parts[i + 4], TAG.SEQUENCE, 'subject');
  const extNode = parts.slice(i + 6).find((p) => p.tag === 0xa3);
  const extensions = extNode ? parseExtensions(children(extNode)[0]!) : [];
  const ext = (id: string): Extension | undefined => extensions.find((e) => e.oid === id);
  const bc = ext(OID.basicConstraints);
  const ski = ext(OID.subjectKeyIdentifier);
  const aki = ext(OID.authorityKeyIdentifier);
  const san = ext(OID.subjectAltName);
  const out: ParsedCertificate = {
    tbs: tbs.raw,
    serial,
    signatureAlgorithm: parseSignatureAlgorithm(sigAlg),
    signature: decodeBitString(expect(sig, TAG.BIT_STRING, 'signatureValue')).bytes,
    issuer: decodeName(issuerNode),
    issuerDer: issuerNode.raw,
    subject: decodeName(subjectNode),
    subjectDer: subjectNode.raw,
    notBefore: decodeTime(nb!),
    notAfter: decodeTime(na!),
    publicKey: parsePublicKeyInfo(expect(parts[i + 5], TAG.SEQUENCE, 'subjectPublicKeyInfo')),
    extensions,
    sans: san ? decodeGeneralNames(san.value) : [],
  };
  if (bc) out.basicConstraints = decodeBasicConstraints(bc.value);
  if (ski) out.subjectKeyId = decodeSubjectKeyIdentifier(ski.value);
  if (aki) {
    const id = decodeAuthorityKeyIdentifier(aki.value);
    if (id) out.authorityKeyId = id;
  }
  return out;
}
