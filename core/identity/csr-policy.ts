/**
 * What a workload CSR must look like before the CA will look further (design.md 5): one SAN, a
 * SPIFFE workload URI in this mesh's trust domain (or an alias), and a key and signature algorithm
 * strong enough. Pure; the signature itself is verified by the host after these cheap checks pass.
 */
import type { ParsedCsr } from './csr.ts';
import { describeKey, signatureMatchesKey, type KeyAlgorithm, type SignatureAlgorithm } from './key-info.ts';
import { parseWorkloadIdentity, type WorkloadIdentity } from './spiffe.ts';

export type CsrRefusalReason = 'malformed-csr' | 'weak-key' | 'signature-algorithm' | 'san' | 'trust-domain' | 'bad-signature';

export type CsrCheck = { ok: true; identity: WorkloadIdentity; uri: string } | { ok: false; reason: CsrRefusalReason; message: string };

/** Largest RSA modulus accepted: bigger keys only cost verification time. */
export const MAX_RSA_BITS = 8192;

/** Why this key is not acceptable, or undefined: EC P-256/P-384, RSA 2048..8192. */
export function keyProblem(k: KeyAlgorithm): string | undefined {
  switch (k.kind) {
    case 'ec':
      return k.curve === 'P-256' || k.curve === 'P-384' ? undefined : `${describeKey(k)} is not accepted: use an EC P-256 (or P-384) key`;
    case 'rsa':
      if (k.modulusBits < 2048) return `RSA key of ${k.modulusBits} bits is too weak: use EC P-256 or RSA of at least 2048 bits`;
      return k.modulusBits > MAX_RSA_BITS ? `RSA key of ${k.modulusBits} bits is larger than ${MAX_RSA_BITS}` : undefined;
    default:
      return `${describeKey(k)} is not accepted: use an EC P-256 key`;
  }
}

export function signatureProblem(sig: SignatureAlgorithm, key: KeyAlgorithm): string | undefined {
  if (sig.kind === 'unsupported') return `signature algorithm ${sig.oid} is not supported: sign with ECDSA SHA-256`;
  if (sig.hash === 'sha1') return 'SHA-1 signatures are refused: sign with SHA-256';
  if (!signatureMatchesKey(sig, key)) return `a ${sig.kind} signature does not go with a ${describeKey(key)} key`;
  return undefined;
}

export function checkWorkloadCsr(csr: ParsedCsr, policy: { trustDomains: readonly string[] }): CsrCheck {
  const weak = keyProblem(csr.publicKey.algorithm);
  if (weak) return { ok: false, reason: 'weak-key', message: weak };
  const sig = signatureProblem(csr.signatureAlgorithm, csr.publicKey.algorithm);
  if (sig) return { ok: false, reason: 'signature-algorithm', message: sig };
  if (csr.sans.length === 0) return { ok: false, reason: 'san', message: 'CSR has no subjectAltName: put the SPIFFE id in a URI SAN' };
  if (csr.sans.length > 1) {
    return { ok: false, reason: 'san', message: `CSR has ${csr.sans.length} subjectAltNames; a workload certificate carries exactly one, its SPIFFE URI` };
  }
  const san = csr.sans[0]!;
  if (san.type !== 'uri') return { ok: false, reason: 'san', message: `CSR's subjectAltName is ${san.type === 'other' ? 'of an unsupported type' : `${san.type.toUpperCase()} ${san.value}`}, not a SPIFFE URI` };
  const id = parseWorkloadIdentity(san.value);
  if (!id.ok) return { ok: false, reason: 'san', message: id.message };
  if (!policy.trustDomains.includes(id.value.trustDomain)) {
    const accepted = policy.trustDomains.map((t) => JSON.stringify(t)).join(', ');
    return { ok: false, reason: 'trust-domain', message: `trust domain ${JSON.stringify(id.value.trustDomain)} of ${san.value} is not this mesh's (accepted: ${accepted})` };
  }
  return { ok: true, identity: id.value, uri: san.value };
}
