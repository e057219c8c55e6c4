/**
 * Making a CSR with a node:crypto key: what a node proxy, gateway or waypoint sends the CA. The
 * private key never leaves the process that made it (design.md 5).
 */
import { sign, type KeyObject } from 'node:crypto';
import { assembleSigned, buildCertificationRequestInfo, issuerSignature, pemEncode, type GeneralName } from '../../../core/identity/index.ts';
import { generateEcKeyPair, privateKeyPem, publicKeyInfoOf } from './keys.ts';

/** A PEM CSR with an empty subject and the given SANs (one SPIFFE URI for a workload). */
export function createCsr(privateKey: KeyObject, sans: readonly GeneralName[] | string): string {
  const info = publicKeyInfoOf(privateKey);
  const names: readonly GeneralName[] = typeof sans === 'string' ? [{ type: 'uri', value: sans }] : sans;
  const cri = buildCertificationRequestInfo({ spki: info.der, sans: names });
  const { algorithmId, hash } = issuerSignature(info.algorithm);
  const signature = sign(hash, cri, { key: privateKey, dsaEncoding: 'der' });
  return pemEncode('CERTIFICATE REQUEST', assembleSigned(cri, algorithmId, signature));
}

/** A fresh P-256 key and a CSR for `identity`: the workload side of one certificate. */
export function createKeyAndCsr(identity: string): { keyPem: string; privateKey: KeyObject; csrPem: string } {
  const { privateKey } = generateEcKeyPair();
  return { privateKey, keyPem: privateKeyPem(privateKey), csrPem: createCsr(privateKey, identity) };
}
