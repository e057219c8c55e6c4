import { describe, expect, test } from 'vitest';
import { buildTbsCertificate, caExtensions, leafExtensions, parseCertificate } from './certificate.ts';
import { assembleSigned } from './csr.ts';
import { decodeExtKeyUsage, decodeKeyUsage } from './extensions.ts';
import { issuerSignature } from './key-info.ts';
import { OID } from './oid.ts';
import { EMPTY_NAME, decodeName, encodeName, formatName } from './x509-name.ts';
import { base64Decode } from './pem.ts';

// SubjectPublicKeyInfo of an EC P-256 key (from an openssl CSR)
const SPKI = base64Decode('MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWyq9r1hsdkphyAwFyqb0qkZ+Pt3m1WTH8+3p6hQg1PZXnA1VR4OAoJWUB1wCjbgKzqcANS3k1fSIZUyky7Lw1Q==');
const SIG = Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01);
const ski = Uint8Array.from({ length: 20 }, (_, i) => i);
const aki = Uint8Array.from({ length: 20 }, (_, i) => 100 + i);

describe('X.509 names', () => {
  test('encode one attribute per RDN, decode and format in order', () => {
    const attrs = [
      { type: 'C', value: 'DE' },
      { type: 'O', value: 'cluster.local' },
      { type: 'L', value: 'west' },
      { type: 'CN', value: 'Wéft Root CA' },
    ];
    const der = encodeName(attrs);
    expect(decodeName(der)).toEqual(attrs);
    expect(formatName(decodeName(der))).toBe('C=DE, O=cluster.local, L=west, CN=Wéft Root CA');
    expect(decodeName(EMPTY_NAME)).toEqual([]);
  });
});

describe('TBSCertificate', () => {
  const issuer = encodeName([{ type: 'O', value: 'cluster.local' }, { type: 'CN', value: 'Weft Root CA' }]);
  const { algorithmId } = issuerSignature({ kind: 'ec', curve: 'P-256' });
  const notBefore = Date.UTC(2026, 0, 1);
  const notAfter = Date.UTC(2051, 0, 1); // past 2049: GeneralizedTime

  test('a SPIFFE leaf round-trips through the parser', () => {
    const tbs = buildTbsCertificate({
      serial: Uint8Array.of(0x80, 1, 2, 3),
      signatureAlgorithm: algorithmId,
      issuer,
      subject: EMPTY_NAME,
      notBefore,
      notAfter,
      spki: SPKI,
      extensions: leafExtensions({ sans: [{ type: 'uri', value: 'spiffe://cluster.local/ns/a/sa/b' }], emptySubject: true, usage: 'workload', key: { kind: 'ec', curve: 'P-256' }, subjectKeyId: ski, authorityKeyId: aki }),
    });
    const cert = parseCertificate(assembleSigned(tbs, algorithmId, SIG));
    expect(cert.tbs).toEqual(tbs);
    expect(cert.serial).toEqual(Uint8Array.of(0x80, 1, 2, 3));
    expect(cert.signatureAlgorithm).toMatchObject({ kind: 'ecdsa', hash: 'sha256' });
    expect(cert.signature).toEqual(SIG);
    expect(cert.issuerDer).toEqual(issuer);
    expect(formatName(cert.issuer)).toBe('O=cluster.local, CN=Weft Root CA');
    expect(cert.subject).toEqual([]);
    expect([cert.notBefore, cert.notAfter]).toEqual([notBefore, notAfter]);
    expect(cert.publicKey.der).toEqual(SPKI);
    expect(cert.basicConstraints).toEqual({ ca: false });
    expect(cert.subjectKeyId).toEqual(ski);
    expect(cert.authorityKeyId).toEqual(aki);
    expect(cert.sans).toEqual([{ type: 'uri', value: 'spiffe://cluster.local/ns/a/sa/b' }]);
    const ext = (id: string) => cert.extensions.find((e) => e.oid === id)!;
    expect(ext(OID.subjectAltName).critical).toBe(true);
    expect(ext(OID.keyUsage).critical).toBe(true);
    expect(decodeKeyUsage(ext(OID.keyUsage).value)).toEqual(['digitalSignature']);
    expect(decodeExtKeyUsage(ext(OID.extKeyUsage).value)).toEqual([OID.serverAuth, OID.clientAuth]);
  });

  test('server leaves: serverAuth only; RSA keys add keyEncipherment; CA extensions carry pathlen', () => {
    const server = leafExtensions({ sans: [{ type: 'ip', value: '127.0.0.1' }], emptySubject: false, usage: 'server', key: { kind: 'rsa', modulusBits: 2048 } });
    const tbs = buildTbsCertificate({ serial: Uint8Array.of(1), signatureAlgorithm: algorithmId, issuer, subject: issuer, notBefore, notAfter, spki: SPKI, extensions: server });
    const cert = parseCertificate(assembleSigned(tbs, algorithmId, SIG));
    expect(cert.sans).toEqual([{ type: 'ip', value: '127.0.0.1' }]);
    expect(cert.extensions.find((e) => e.oid === OID.subjectAltName)!.critical).toBe(false);
    expect(decodeExtKeyUsage(cert.extensions.find((e) => e.oid === OID.extKeyUsage)!.value)).toEqual([OID.serverAuth]);
    expect(decodeKeyUsage(cert.extensions.find((e) => e.oid === OID.keyUsage)!.value)).toEqual(['digitalSignature', 'keyEncipherment']);

    const ca = buildTbsCertificate({ serial: Uint8Array.of(1), signatureAlgorithm: algorithmId, issuer, subject: issuer, notBefore, notAfter, spki: SPKI, extensions: caExtensions({ pathLen: 0, subjectKeyId: ski, authorityKeyId: aki }) });
    const parsed = parseCertificate(assembleSigned(ca, algorithmId, SIG));
    expect(parsed.basicConstraints).toEqual({ ca: true, pathLen: 0 });
    expect(decodeKeyUsage(parsed.extensions.find((e) => e.oid === OID.keyUsage)!.value)).toEqual(['digitalSignature', 'keyCertSign', 'cRLSign']);
  });

  test('programmer errors throw', () => {
    const base = { serial: Uint8Array.of(1), signatureAlgorithm: algorithmId, issuer, subject: issuer, spki: SPKI, extensions: [] };
    expect(() => buildTbsCertificate({ ...base, notBefore: notAfter, notAfter: notBefore })).toThrow(/notAfter/);
    expect(() => buildTbsCertificate({ ...base, serial: new Uint8Array(21).fill(1), notBefore, notAfter })).toThrow(/20 octets/);
    expect(() => issuerSignature({ kind: 'ed25519' })).toThrow(/not supported/);
  });
});
