/**
 * Making CA certificates, as Istio's tools/certs Makefile.selfsigned.mk does (root: 10 years;
 * intermediate per cluster: 2 years, pathlen 0, L=<cluster name>), so several clusters can share
 * one root. Keys are ECDSA P-256 rather than the Makefile's RSA 4096: a P-256 signature costs a
 * fraction of an RSA 4096 one, and the CA signs every workload certificate with this key.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { buildTbsCertificate, caExtensions, encodeName, parseCertificate, pemDecodeAll, pemEncode, type NameAttribute } from '../../../core/identity/index.ts';
import { generateEcKeyPair, keyIdentifier, privateKeyPem, publicKeyInfoOf, randomSerial, signCertificate } from './keys.ts';

export const DEFAULT_ORG = 'Weft';
export const DEFAULT_ROOT_CN = 'Weft Root CA';
export const DEFAULT_INTERMEDIATE_CN = 'Weft Intermediate CA';
export const ROOT_DAYS = 3650;
export const INTERMEDIATE_DAYS = 730;
const DAY_MS = 86_400_000;

export interface IssuedCa {
  certPem: string;
  keyPem: string;
  key: KeyObject;
}

export function makeRootCa(o: { org?: string; cn?: string; days?: number; now?: number } = {}): IssuedCa {
  const now = o.now ?? Date.now();
  const { privateKey } = generateEcKeyPair();
  const info = publicKeyInfoOf(privateKey);
  const ski = keyIdentifier(info.publicKey);
  const name = encodeName(nameAttrs(o.org ?? DEFAULT_ORG, o.cn ?? DEFAULT_ROOT_CN));
  const der = signCertificate(privateKey, info.algorithm, (algorithmId) =>
    buildTbsCertificate({
      serial: randomSerial(),
      signatureAlgorithm: algorithmId,
      issuer: name,
      subject: name,
      notBefore: now - 60_000,
      notAfter: now + (o.days ?? ROOT_DAYS) * DAY_MS,
      spki: info.der,
      extensions: caExtensions({ subjectKeyId: ski }),
    }),
  );
  return { certPem: pemEncode('CERTIFICATE', der), keyPem: privateKeyPem(privateKey), key: privateKey };
}

/** An intermediate CA signed by a root; its lifetime is capped by the root's. */
export function makeIntermediateCa(o: { rootCertPem: string; rootKeyPem: string; name: string; org?: string; cn?: string; days?: number; now?: number }): IssuedCa {
  const now = o.now ?? Date.now();
  const rootDer = pemDecodeAll(o.rootCertPem).find((b) => b.label === 'CERTIFICATE')?.der;
  if (!rootDer) throw new Error('the root certificate file holds no CERTIFICATE block');
  const root = parseCertificate(rootDer);
  const rootKey = createPrivateKey(o.rootKeyPem);
  const rootX509 = new X509Certificate(Buffer.from(rootDer));
  if (!rootX509.checkPrivateKey(rootKey)) throw new Error('root-key.pem does not belong to root-cert.pem');
  if (!root.basicConstraints?.ca) throw new Error('root-cert.pem is not a CA certificate (basicConstraints CA:TRUE missing)');
  const { privateKey } = generateEcKeyPair();
  const info = publicKeyInfoOf(privateKey);
  const rootInfo = publicKeyInfoOf(rootKey);
  const notAfter = Math.min(now + (o.days ?? INTERMEDIATE_DAYS) * DAY_MS, root.notAfter);
  const der = signCertificate(rootKey, rootInfo.algorithm, (algorithmId) =>
    buildTbsCertificate({
      serial: randomSerial(),
      signatureAlgorithm: algorithmId,
      issuer: root.subjectDer,
      subject: encodeName(nameAttrs(o.org ?? DEFAULT_ORG, o.cn ?? DEFAULT_INTERMEDIATE_CN, o.name)),
      notBefore: Math.max(now - 60_000, root.notBefore),
      notAfter,
      spki: info.der,
      extensions: caExtensions({ pathLen: 0, subjectKeyId: keyIdentifier(info.publicKey), authorityKeyId: root.subjectKeyId ?? keyIdentifier(root.publicKey.publicKey) }),
    }),
  );
  return { certPem: pemEncode('CERTIFICATE', der), keyPem: privateKeyPem(privateKey), key: privateKey };
}

function nameAttrs(org: string, cn: string, locality?: string): NameAttribute[] {
  return [{ type: 'O', value: org }, ...(locality ? [{ type: 'L', value: locality }] : []), { type: 'CN', value: cn }];
}
