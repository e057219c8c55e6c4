/**
 * PKCS#10 certification requests (RFC 2986): parse what a proxy sends, and build the body a proxy
 * signs. Parsing stops at structure; whether the key is strong enough and the SAN acceptable is
 * csr-policy.ts, and the signature check is the host's (it owns the crypto).
 */
import { OID } from './oid.ts';
import { TAG, bitString, implicitConstructed, integer, oid, sequence, setOf } from './der-writer.ts';
import { DerError, children, decodeBitString, decodeInteger, decodeOid, expect, parseDer } from './der-reader.ts';
import { decodeName, type NameAttribute, EMPTY_NAME } from './x509-name.ts';
import { parsePublicKeyInfo, parseSignatureAlgorithm, type PublicKeyInfo, type SignatureAlgorithm } from './key-info.ts';
import { decodeGeneralNames, parseExtensions, subjectAltName, type Extension, type GeneralName } from './extensions.ts';
import { pemDecodeAll } from './pem.ts';

export interface ParsedCsr {
  subject: NameAttribute[];
  publicKey: PublicKeyInfo;
  /** Requested extensions (PKCS#9 extensionRequest); the CA copies none of them but the SAN. */
  extensions: Extension[];
  /** The requested subjectAltName entries, [] when none. */
  sans: GeneralName[];
  signatureAlgorithm: SignatureAlgorithm;
  /** The CertificationRequestInfo encoding: the bytes the signature covers. */
  signedBytes: Uint8Array;
  /** The signature (for ECDSA, the DER Ecdsa-Sig-Value). */
  signature: Uint8Array;
}

export type CsrResult = { ok: true; csr: ParsedCsr } | { ok: false; message: string };

export function parseCsrPem(pem: string): CsrResult {
  let blocks;
  try {
    blocks = pemDecodeAll(pem);
  } catch (err) {
    return { ok: false, message: `CSR is not valid PEM: ${(err as Error).message}` };
  }
  const csrs = blocks.filter((b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST');
  if (csrs.length !== 1) return { ok: false, message: `expected one PEM "CERTIFICATE REQUEST" block, found ${csrs.length}` };
  return parseCsrDer(csrs[0]!.der);
}

export function parseCsrDer(der: Uint8Array): CsrResult {
  try {
    const [info, sigAlg, sig] = children(expect(parseDer(der), TAG.SEQUENCE, 'CertificationRequest'));
    const infoNode = expect(info, TAG.SEQUENCE, 'CertificationRequestInfo');
    const [version, subject, spki, attrs] = children(infoNode);
    if (decodeInteger(expect(version, TAG.INTEGER, 'version')) !== 0n) throw new DerError('version must be 0 (v1)');
    const extensions: Extension[] = [];
    if (attrs) {
      for (const attr of children(expect(attrs, 0xa0, 'attributes'))) {
        const [type, values] = children(expect(attr, TAG.SEQUENCE, 'Attribute'));
        if (decodeOid(type!) !== OID.extensionRequest) continue;
        for (const v of children(expect(values, TAG.SET, 'Attribute values'))) extensions.push(...parseExtensions(v));
      }
    }
    const sanExts = extensions.filter((e) => e.oid === OID.subjectAltName);
    if (sanExts.length > 1) throw new DerError('more than one subjectAltName extension');
    const { unusedBits, bytes: signature } = decodeBitString(expect(sig, TAG.BIT_STRING, 'signature'));
    if (unusedBits !== 0) throw new DerError('signature BIT STRING has unused bits');
    return {
      ok: true,
      csr: {
        subject: decodeName(expect(subject, TAG.SEQUENCE, 'subject')),
        publicKey: parsePublicKeyInfo(expect(spki, TAG.SEQUENCE, 'subjectPKInfo')),
        extensions,
        sans: sanExts.length ? decodeGeneralNames(sanExts[0]!.value) : [],
        signatureAlgorithm: parseSignatureAlgorithm(sigAlg),
        signedBytes: infoNode.raw,
        signature,
      },
    };
  } catch (err) {
    if (err instanceof DerError) return { ok: false, message: `CSR is malformed: ${err.message}` };
    throw err;
  }
}

/** The CertificationRequestInfo a proxy signs: empty subject by default, the SANs as an extensionRequest. */
export function buildCertificationRequestInfo(opts: { spki: Uint8Array; sans: readonly GeneralName[]; subject?: Uint8Array }): Uint8Array {
  const subject = opts.subject ?? EMPTY_NAME;
  const critical = subject.length === 2; // empty subject: SAN must be critical (RFC 5280 4.2.1.6)
  const extReq = sequence(oid(OID.extensionRequest), setOf(sequence(subjectAltName(opts.sans, critical))));
  return sequence(integer(0), subject, opts.spki, implicitConstructed(0, extReq));
}

/** `SEQUENCE { body, signatureAlgorithm, BIT STRING signature }`: the outer shape of a certificate and a CSR. */
export function assembleSigned(body: Uint8Array, algorithmId: Uint8Array, signature: Uint8Array): Uint8Array {
  return sequence(body, algorithmId, bitString(signature));
}
