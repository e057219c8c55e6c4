/**
 * The inbound side's judgement of a peer after the TLS handshake: the chain verified against the
 * mesh root (OpenSSL's verdict, `authorizationError`), a client certificate present and within its
 * validity (checked again here because a resumed TLS session skips chain verification), and a SPIFFE
 * id in an accepted trust domain. Returns the identity or a message that says what was wrong.
 */
import type { TLSSocket } from 'node:tls';
import { checkPeerIdentity } from './peer-identity.ts';

export type PeerVerdict = { ok: true; identity: string; trustDomain: string; notAfter: number } | { ok: false; reason: 'no-certificate' | 'untrusted-chain' | 'expired' | 'trust-domain' | 'no-spiffe-id'; message: string };

const CHAIN_HINTS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the client certificate (or a CA above it) has expired',
  CERT_NOT_YET_VALID: 'the client certificate is not valid yet (clock skew?)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the client certificate is not signed by this mesh root (another cluster or CA?)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the client certificate is not signed by this mesh root (another cluster or CA?)',
  SELF_SIGNED_CERT_IN_CHAIN: "the client's chain ends in a root this mesh does not trust",
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the client certificate is self-signed',
  CERT_SIGNATURE_FAILURE: 'a signature in the client chain does not verify',
};

export function judgePeer(tls: Pick<TLSSocket, 'getPeerCertificate' | 'authorizationError'>, trustDomains: readonly string[], now = Date.now()): PeerVerdict {
  const cert = tls.getPeerCertificate();
  if (!cert || !cert.raw) return { ok: false, reason: 'no-certificate', message: 'the client sent no certificate: HBONE needs mutual TLS with a workload certificate' };
  const err = tls.authorizationError as unknown as string | Error | null | undefined;
  if (err) {
    const code = typeof err === 'string' ? err : ((err as { code?: string }).code ?? err.message);
    return { ok: false, reason: code === 'CERT_HAS_EXPIRED' ? 'expired' : 'untrusted-chain', message: `client chain refused: ${CHAIN_HINTS[code] ?? code} (${code})` };
  }
  const notAfter = Date.parse(cert.valid_to);
  if (Number.isFinite(notAfter) && now > notAfter) return { ok: false, reason: 'expired', message: `the client certificate expired at ${new Date(notAfter).toISOString()}` };
  const id = checkPeerIdentity(cert, { trustDomains });
  if (!id.ok) return { ok: false, reason: /trust domain/.test(id.message) ? 'trust-domain' : 'no-spiffe-id', message: id.message };
  return { ok: true, identity: id.identity, trustDomain: id.trustDomain, notAfter };
}
