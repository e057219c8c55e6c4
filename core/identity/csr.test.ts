import { describe, expect, test } from 'vitest';
import { assembleSigned, buildCertificationRequestInfo, parseCsrDer, parseCsrPem, type ParsedCsr } from './csr.ts';
import { checkWorkloadCsr, keyProblem } from './csr-policy.ts';
import { encodeName } from './x509-name.ts';
import { oid, sequence, bitString } from './der-writer.ts';
import { OID } from './oid.ts';
import { pemEncode } from './pem.ts';

// made with: openssl req -new -key p256.pem -subj / -addext subjectAltName=URI:spiffe://cluster.local/ns/default/sa/sleep
const P256_CSR = `-----BEGIN CERTIFICATE REQUEST-----
MIIBAzCBqgIBADAAMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWyq9r1hsdkph
yAwFyqb0qkZ+Pt3m1WTH8+3p6hQg1PZXnA1VR4OAoJWUB1wCjbgKzqcANS3k1fSI
ZUyky7Lw1aBIMEYGCSqGSIb3DQEJDjE5MDcwNQYDVR0RBC4wLIYqc3BpZmZlOi8v
Y2x1c3Rlci5sb2NhbC9ucy9kZWZhdWx0L3NhL3NsZWVwMAoGCCqGSM49BAMCA0gA
MEUCIHQqPjZjwviK84sfEVQmp6BiJEGCd4y39hhH8kfh0rP6AiEAliUy0YbnFMGD
4DS6hIXacWvUiuWVD3WbChXQ7PtiZZ4=
-----END CERTIFICATE REQUEST-----
`;
// the same key, -subj /O=acme/CN=sleep, SANs URI, DNS sleep.default.svc, IP 10.0.0.1, IP fd00::1
const FOUR_SANS_CSR = `-----BEGIN CERTIFICATE REQUEST-----
MIIBTTCB9AIBADAfMQ0wCwYDVQQKDARhY21lMQ4wDAYDVQQDDAVzbGVlcDBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABFsqva9YbHZKYcgMBcqm9KpGfj7d5tVkx/Pt
6eoUINT2V5wNVUeDgKCVlAdcAo24Cs6nADUt5NX0iGVMpMuy8NWgczBxBgkqhkiG
9w0BCQ4xZDBiMGAGA1UdEQRZMFeGKnNwaWZmZTovL2NsdXN0ZXIubG9jYWwvbnMv
ZGVmYXVsdC9zYS9zbGVlcIIRc2xlZXAuZGVmYXVsdC5zdmOHBAoAAAGHEP0AAAAA
AAAAAAAAAAAAAAEwCgYIKoZIzj0EAwIDSAAwRQIgHaAESbw7GdW81M71j0ntAQmu
jYr6FGqjoYsBb9AXeMICIQDR8UI2CFeK7zMWI/yzWf7GYeXBTjIDqSgKe1JxWPv2
yg==
-----END CERTIFICATE REQUEST-----
`;
// RSA 1024, sha256WithRSAEncryption, URI SAN
const RSA1024_CSR = `-----BEGIN CERTIFICATE REQUEST-----
MIIBhzCB8QIBADAAMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCu63P8bfDk
DCHnD7OsppwO4Xgziwf+UYACa56v7FCn7fWi9/u9O8dTLmA6UiIusu7hkFrh4jYx
WChuM2mHYl6rLTjiAde9+WnltOp+665FhCzUSzkqv/cYMspp/fiEgD20Y9mQLMZc
1pRoR7ot3VybWHy+BrHZvrH9BFgp9+hOpwIDAQABoEgwRgYJKoZIhvcNAQkOMTkw
NzA1BgNVHREELjAshipzcGlmZmU6Ly9jbHVzdGVyLmxvY2FsL25zL2RlZmF1bHQv
c2Evc2xlZXAwDQYJKoZIhvcNAQELBQADgYEAOENoLWUfg9vjsm55muRTJXR9lpbx
6woJay9axWb+BV+DC+gQQ0ONuRFl9fvAw9SDtpwMz2JPBxyu/M2P5zFPmbvdnkxp
ZIjFWsfmrZutVE2pkLSEycf441AuG6sIFVSYedBIrgScBVB8E6sTQgtrWADpMhf4
PSSFfkQAj/n0vno=
-----END CERTIFICATE REQUEST-----
`;

function parse(pem: string): ParsedCsr {
  const r = parseCsrPem(pem);
  if (!r.ok) throw new Error(r.message);
  return r.csr;
}

const TDS = { trustDomains: ['cluster.local'] };

describe('PKCS#10 parsing (openssl-made CSRs)', () => {
  test('P-256 CSR: empty subject, key, SAN, signature algorithm, signed bytes', () => {
    const csr = parse(P256_CSR);
    expect(csr.subject).toEqual([]);
    expect(csr.publicKey.algorithm).toEqual({ kind: 'ec', curve: 'P-256' });
    expect(csr.publicKey.publicKey.length).toBe(65);
    expect(csr.sans).toEqual([{ type: 'uri', value: 'spiffe://cluster.local/ns/default/sa/sleep' }]);
    expect(csr.signatureAlgorithm).toMatchObject({ kind: 'ecdsa', hash: 'sha256' });
    expect(csr.signedBytes[0]).toBe(0x30);
    expect(csr.signature[0]).toBe(0x30); // DER Ecdsa-Sig-Value
    expect(checkWorkloadCsr(csr, TDS)).toMatchObject({ ok: true, uri: 'spiffe://cluster.local/ns/default/sa/sleep' });
  });

  test('subject and every SAN kind are read', () => {
    const csr = parse(FOUR_SANS_CSR);
    expect(csr.subject).toEqual([
      { type: 'O', value: 'acme' },
      { type: 'CN', value: 'sleep' },
    ]);
    expect(csr.sans).toEqual([
      { type: 'uri', value: 'spiffe://cluster.local/ns/default/sa/sleep' },
      { type: 'dns', value: 'sleep.default.svc' },
      { type: 'ip', value: '10.0.0.1' },
      { type: 'ip', value: 'fd00::1' },
    ]);
    expect(checkWorkloadCsr(csr, TDS)).toMatchObject({ ok: false, reason: 'san', message: expect.stringMatching(/4 subjectAltNames/) });
  });

  test('RSA 1024 is parsed and refused as weak', () => {
    const csr = parse(RSA1024_CSR);
    expect(csr.publicKey.algorithm).toEqual({ kind: 'rsa', modulusBits: 1024 });
    expect(checkWorkloadCsr(csr, TDS)).toMatchObject({ ok: false, reason: 'weak-key', message: expect.stringMatching(/1024 bits is too weak/) });
  });

  test('malformed input is data, not an exception', () => {
    expect(parseCsrPem('hello')).toMatchObject({ ok: false, message: expect.stringMatching(/one PEM "CERTIFICATE REQUEST"/) });
    expect(parseCsrPem(P256_CSR + P256_CSR)).toMatchObject({ ok: false });
    const der = parse(P256_CSR).signedBytes;
    expect(parseCsrDer(der)).toMatchObject({ ok: false, message: expect.stringMatching(/^CSR is malformed/) });
    expect(parseCsrDer(Uint8Array.of(0x30, 0x03, 0x02, 0x01))).toMatchObject({ ok: false });
    expect(parseCsrPem('-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----')).toMatchObject({ ok: false, message: expect.stringMatching(/not valid PEM/) });
  });
});

describe('building a CertificationRequestInfo', () => {
  const spki = parse(P256_CSR).publicKey.der;
  const fakeSig = Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01);
  const algId = sequence(oid(OID.ecdsaSha256));
  const build = (sans: Parameters<typeof buildCertificationRequestInfo>[0]['sans'], subject?: Uint8Array): ParsedCsr => {
    const cri = buildCertificationRequestInfo({ spki, sans, ...(subject ? { subject } : {}) });
    const r = parseCsrPem(pemEncode('CERTIFICATE REQUEST', assembleSigned(cri, algId, fakeSig)));
    if (!r.ok) throw new Error(r.message);
    expect(r.csr.signedBytes).toEqual(cri);
    expect(r.csr.signature).toEqual(fakeSig);
    return r.csr;
  };

  test('round-trips SANs; SAN critical with an empty subject, not otherwise', () => {
    const csr = build([{ type: 'uri', value: 'spiffe://td/ns/a/sa/b' }]);
    expect(csr.sans).toEqual([{ type: 'uri', value: 'spiffe://td/ns/a/sa/b' }]);
    expect(csr.extensions[0]).toMatchObject({ oid: OID.subjectAltName, critical: true });
    const named = build([{ type: 'dns', value: 'a.b' }], encodeName([{ type: 'CN', value: 'x' }]));
    expect(named.extensions[0]!.critical).toBe(false);
    expect(named.subject).toEqual([{ type: 'CN', value: 'x' }]);
  });

  test('policy: trust domain, DNS-only, non-workload URI, no SAN, SHA-1, mismatched algorithm', () => {
    const uri = (value: string) => build([{ type: 'uri', value }]);
    expect(checkWorkloadCsr(uri('spiffe://evil.org/ns/a/sa/b'), TDS)).toMatchObject({ ok: false, reason: 'trust-domain', message: expect.stringMatching(/"evil.org".*not this mesh's/) });
    expect(checkWorkloadCsr(uri('spiffe://old.local/ns/a/sa/b'), { trustDomains: ['cluster.local', 'old.local'] })).toMatchObject({ ok: true });
    expect(checkWorkloadCsr(build([{ type: 'dns', value: 'a.b' }]), TDS)).toMatchObject({ ok: false, reason: 'san', message: expect.stringMatching(/DNS a.b, not a SPIFFE URI/) });
    expect(checkWorkloadCsr(uri('https://cluster.local/ns/a/sa/b'), TDS)).toMatchObject({ ok: false, reason: 'san' });
    expect(checkWorkloadCsr(uri('spiffe://cluster.local/foo'), TDS)).toMatchObject({ ok: false, reason: 'san', message: expect.stringMatching(/not a workload identity/) });
    expect(checkWorkloadCsr(build([]), TDS)).toMatchObject({ ok: false, reason: 'san', message: expect.stringMatching(/no subjectAltName/) });
    const csr = uri('spiffe://cluster.local/ns/a/sa/b');
    expect(checkWorkloadCsr({ ...csr, signatureAlgorithm: { kind: 'ecdsa', hash: 'sha1', oid: OID.ecdsaSha1 } }, TDS)).toMatchObject({ ok: false, reason: 'signature-algorithm' });
    expect(checkWorkloadCsr({ ...csr, signatureAlgorithm: { kind: 'rsa-pkcs1', hash: 'sha256', oid: OID.rsaSha256 } }, TDS)).toMatchObject({ ok: false, reason: 'signature-algorithm' });
  });

  test('key policy', () => {
    expect(keyProblem({ kind: 'ec', curve: 'P-256' })).toBeUndefined();
    expect(keyProblem({ kind: 'ec', curve: 'P-384' })).toBeUndefined();
    expect(keyProblem({ kind: 'ec', curve: '1.3.132.0.10' })).toMatch(/not accepted/);
    expect(keyProblem({ kind: 'rsa', modulusBits: 2048 })).toBeUndefined();
    expect(keyProblem({ kind: 'rsa', modulusBits: 2047 })).toMatch(/too weak/);
    expect(keyProblem({ kind: 'ed25519' })).toMatch(/not accepted/);
  });

  test('a BIT STRING signature with unused bits is malformed', () => {
    const cri = buildCertificationRequestInfo({ spki, sans: [] });
    const der = sequence(cri, algId, bitString(fakeSig, 1));
    expect(parseCsrDer(der)).toMatchObject({ ok: false, message: expect.stringMatching(/unused bits/) });
  });
});
