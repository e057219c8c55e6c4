/**
 * Measures the CA's signing rate on one core, for test/bench/control and the figure
 * (goal: at least 1,000 certificates a second). Two numbers: what the CA does per certificate (CSR
 * parse, policy, signature verify, TBS build, sign, PEM), and, separately, what a client does
 * (P-256 key pair + CSR), which the CA never pays.
 */
import { performance } from 'node:perf_hooks';
import type { CertificateAuthority } from './authority.ts';
import { makeRootCa } from './ca-certs.ts';
import { caFromPems } from './ca-material.ts';
import { createKeyAndCsr } from './csr.ts';

export interface SigningRate {
  certificates: number;
  /** CA side: certificates signed per second. */
  signedPerSecond: number;
  signMsPerCertificate: number;
  /** Client side: key pair + CSR per second. */
  keyAndCsrPerSecond: number;
  keyAndCsrMsPerCertificate: number;
}

export function measureSigningRate(n = 2000, ca?: CertificateAuthority): SigningRate {
  const authority = ca ?? selfSignedCa();
  const trustDomain = 'cluster.local';
  const ids = Array.from({ length: n }, (_, i) => `spiffe://${trustDomain}/ns/bench/sa/sa-${i % 50}`);
  // warm up both paths so the JIT and OpenSSL's tables are not in the figure
  for (let i = 0; i < 50; i++) authority.sign(createKeyAndCsr(ids[0]!).csrPem, { identity: ids[0]! });

  let t0 = performance.now();
  const csrs = ids.map((id) => createKeyAndCsr(id).csrPem);
  const keyMs = performance.now() - t0;

  t0 = performance.now();
  for (let i = 0; i < n; i++) authority.sign(csrs[i]!, { identity: ids[i]! });
  const signMs = performance.now() - t0;

  return {
    certificates: n,
    signedPerSecond: Math.round((n * 1000) / signMs),
    signMsPerCertificate: signMs / n,
    keyAndCsrPerSecond: Math.round((n * 1000) / keyMs),
    keyAndCsrMsPerCertificate: keyMs / n,
  };
}

function selfSignedCa(): CertificateAuthority {
  const root = makeRootCa({ org: 'cluster.local', cn: 'Weft bench root' });
  return caFromPems({ caCertPem: root.certPem, caKeyPem: root.keyPem, rootCertPem: root.certPem, source: 'in-memory bench root' });
}
