/**
 * One workload certificate as a proxy holds it: the private key it made, the chain the CA returned
 * (leaf first, root last), the fields shown by `proxy-config secret`, and the `tls.SecureContext`
 * that HBONE uses on both sides (client and server). The context is built once per certificate and
 * cached: a rotation makes a new object, so existing TLS sessions keep the one they started with.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { formatName, parseCertificate, parseSpiffeId, pemDecodeAll } from '../../../core/identity/index.ts';
import { HBONE_CIPHERSUITES } from '../hbone/constants.ts';

export interface WorkloadCertificate {
  identity: string;
  /** PKCS#8 PEM of the key made in this process. Never sent anywhere. */
  keyPem: string;
  /** Leaf first, root last, as the CA returned it. */
  chainPems: readonly string[];
  /** The mesh roots peers are verified against. */
  rootPems: readonly string[];
  notBefore: number;
  notAfter: number;
  /** Hex, upper case, as openssl and istioctl print it. */
  serial: string;
  issuer: string;
  /** TLS 1.3 only, key + leaf + intermediates, `ca` = mesh roots. Shared by every connection until rotation. */
  secureContext: SecureContext;
}

/** What `list()` and `/config_dump` show: everything but the key and the context. */
export type CertificateInfo = Omit<WorkloadCertificate, 'keyPem' | 'secureContext'>;

/** Session tickets older than this force a full handshake (and a fresh chain check). */
export const TLS_SESSION_TIMEOUT_SECONDS = 300;

/** Splits a PEM bundle (or several) into one PEM per certificate. */
export function splitPems(pems: string | readonly string[]): string[] {
  const text = typeof pems === 'string' ? pems : pems.join('\n');
  return text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)?.map((p) => `${p}\n`) ?? [];
}

/**
 * A TLS 1.3-only context for mutual TLS with a workload identity. The chain sent to peers is the
 * leaf and intermediates: a root the peer already trusts is left out (it would be ignored anyway).
 */
export function workloadSecureContext(o: { keyPem: string; chainPems: readonly string[]; rootPems: readonly string[] }): SecureContext {
  const roots = new Set(o.rootPems.map(normalize));
  const sent = o.chainPems.filter((p, i) => i === 0 || !roots.has(normalize(p)));
  return createSecureContext({
    key: o.keyPem,
    cert: sent.join(''),
    ca: [...o.rootPems],
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    // AES-128-GCM first: cheaper per byte, and both AES suites stay accepted (hbone/constants.ts)
    ciphers: HBONE_CIPHERSUITES,
    sessionTimeout: TLS_SESSION_TIMEOUT_SECONDS,
  });
}

/**
 * Checks a chain from the CA and wraps it. Throws when the leaf does not name `identity` (a CA bug
 * or a mix-up must not put the wrong identity on the wire) or does not belong to the key.
 */
export function buildWorkloadCertificate(o: { identity: string; keyPem: string; chainPems: readonly string[]; rootPems: readonly string[] }): WorkloadCertificate {
  const chain = o.chainPems.flatMap((p) => splitPems(p));
  if (chain.length === 0) throw new Error(`the CA returned no certificate for ${o.identity}`);
  const der = pemDecodeAll(chain[0]!).find((b) => b.label === 'CERTIFICATE')!.der;
  const leaf = parseCertificate(der);
  const uris = leaf.sans.filter((s) => s.type === 'uri').map((s) => s.value);
  if (!uris.includes(o.identity)) throw new Error(`the CA returned a certificate for ${uris.join(', ') || 'no URI SAN'} instead of ${o.identity}`);
  if (!parseSpiffeId(o.identity).ok) throw new Error(`${o.identity} is not a SPIFFE id`);
  const roots = o.rootPems.flatMap((p) => splitPems(p));
  // createSecureContext fails when the key does not match the leaf: a clear error here beats a TLS alert later
  const secureContext = workloadSecureContext({ keyPem: o.keyPem, chainPems: chain, rootPems: roots });
  return {
    identity: o.identity,
    keyPem: o.keyPem,
    chainPems: chain,
    rootPems: roots,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    serial: Buffer.from(leaf.serial).toString('hex').toUpperCase(),
    issuer: formatName(leaf.issuer),
    secureContext,
  };
}

export function certificateInfo(c: WorkloadCertificate): CertificateInfo {
  return { identity: c.identity, chainPems: c.chainPems, rootPems: c.rootPems, notBefore: c.notBefore, notAfter: c.notAfter, serial: c.serial, issuer: c.issuer };
}

function normalize(pem: string): string {
  return pem.replace(/\s+/g, '');
}
