import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { parseCsrPem, pemDecodeAll, pemEncode } from '../../../core/identity/index.ts';
import { makeRootCa } from './ca-certs.ts';
import { caFromPems } from './ca-material.ts';
import { createCsr, createKeyAndCsr } from './csr.ts';
import { CaRefusal } from './errors.ts';
import { EC_P256, EC_P384, RSA, opensslCsr, openssl, verifyChain } from './test-support.ts';

const ID = 'spiffe://cluster.local/ns/default/sa/sleep';
const root = makeRootCa({ org: 'cluster.local' });
const ca = caFromPems({ caCertPem: root.certPem, caKeyPem: root.keyPem, rootCertPem: root.certPem, source: 'test' });
const TDS = { trustDomains: ['cluster.local'] };

function refusal(f: () => unknown): CaRefusal {
  try {
    f();
  } catch (err) {
    if (err instanceof CaRefusal) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('CSRs made by openssl', () => {
  test.each([
    ['EC P-256', EC_P256, { kind: 'ec', curve: 'P-256' }],
    ['EC P-384', EC_P384, { kind: 'ec', curve: 'P-384' }],
    ['RSA 2048', RSA(2048), { kind: 'rsa', modulusBits: 2048 }],
  ])('%s: parsed, verified, signed; openssl verifies the chain', (_, keyArgs, alg) => {
    const { csrPem } = opensslCsr(keyArgs, `URI:${ID}`);
    const parsed = parseCsrPem(csrPem);
    expect(parsed.ok && parsed.csr.publicKey.algorithm).toEqual(alg);
    expect(ca.inspectCsr(csrPem, TDS).uri).toBe(ID);
    expect(verifyChain(ca.sign(csrPem, { identity: ID }), ca.rootCertPem).ok).toBe(true);
  });

  test.each([
    ['RSA 1024', RSA(1024), /RSA key of 1024 bits is too weak/],
    ['secp256k1', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], /EC 1.3.132.0.10 is not accepted/],
    ['Ed25519', ['-algorithm', 'ED25519'], /Ed25519 is not accepted/],
  ])('%s keys are refused as weak', (_, keyArgs, message) => {
    const { csrPem } = opensslCsr(keyArgs, `URI:${ID}`);
    const r = refusal(() => ca.inspectCsr(csrPem, TDS));
    expect([r.reason, r.code]).toEqual(['weak-key', 'INVALID_ARGUMENT']);
    expect(r.message).toMatch(message);
  });

  test('a subject is allowed but not copied: the leaf has an empty subject', () => {
    const { csrPem } = opensslCsr(EC_P256, `URI:${ID}`, '/O=acme/CN=sleep');
    const chain = ca.sign(csrPem, { identity: ID });
    expect(openssl(['x509', '-noout', '-subject'], chain[0]!)).toMatch(/^subject=\s*$/m);
  });

  test('SAN problems: two SANs, DNS only, none, a non-SPIFFE URI, another trust domain', () => {
    const cases: [string | undefined, string, RegExp][] = [
      [`URI:${ID},DNS:sleep.default.svc`, 'san', /2 subjectAltNames/],
      ['DNS:sleep.default.svc', 'san', /DNS sleep.default.svc, not a SPIFFE URI/],
      [undefined, 'san', /no subjectAltName/],
      ['URI:https://sleep.default.svc', 'san', /scheme must be spiffe/],
      ['URI:spiffe://evil.org/ns/default/sa/sleep', 'trust-domain', /"evil.org".*not this mesh's \(accepted: "cluster.local"\)/],
    ];
    for (const [san, reason, message] of cases) {
      const r = refusal(() => ca.inspectCsr(opensslCsr(EC_P256, san).csrPem, TDS));
      expect(r.reason).toBe(reason);
      expect(r.message).toMatch(message);
    }
  });
});

describe('CSRs made with node:crypto keys (what Weft proxies send)', () => {
  test('openssl accepts the CSR: signature verifies, SAN and key shown', () => {
    const { csrPem } = createKeyAndCsr(ID);
    const out = openssl(['req', '-verify', '-noout', '-text'], csrPem);
    expect(out).toMatch(/X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster.local\/ns\/default\/sa\/sleep/);
    expect(out).toMatch(/NIST CURVE: P-256/);
  });

  test('RSA and P-384 keys sign CSRs too', () => {
    for (const kp of [generateKeyPairSync('rsa', { modulusLength: 2048 }), generateKeyPairSync('ec', { namedCurve: 'P-384' })]) {
      const csrPem = createCsr(kp.privateKey, ID);
      expect(openssl(['req', '-verify', '-noout'], csrPem) + '').toBe('');
      expect(verifyChain(ca.sign(csrPem, { identity: ID }), ca.rootCertPem).ok).toBe(true);
    }
  });

  test('a tampered CSR (SAN changed after signing) is refused: bad signature', () => {
    const { csrPem } = createKeyAndCsr(ID);
    const der = pemDecodeAll(csrPem)[0]!.der;
    const text = Buffer.from(der).toString('latin1').replace('sa/sleep', 'sa/admin');
    const tampered = pemEncode('CERTIFICATE REQUEST', Buffer.from(text, 'latin1'));
    const r = refusal(() => ca.sign(tampered, { identity: 'spiffe://cluster.local/ns/default/sa/admin' }));
    expect([r.reason, r.code]).toEqual(['bad-signature', 'INVALID_ARGUMENT']);
    expect(r.message).toMatch(/CSR signature does not verify/);
  });
});
