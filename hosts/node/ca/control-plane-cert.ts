/**
 * The control plane's own serving certificate for 15012 (design.md 5): SPIFFE id
 * `spiffe://<td>/ns/weft-system/sa/weft-control` plus its listen addresses as IP SANs (and DNS
 * names), serverAuth only. Clients check the chain against `--root-cert` and that SPIFFE id, so any
 * address works; the IP and DNS SANs keep plain hostname checks working too.
 */
import { formatWorkloadIdentity, type GeneralName } from '../../../core/identity/index.ts';
import type { CertificateAuthority } from './authority.ts';
import { generateEcKeyPair, privateKeyPem, publicKeyInfoOf } from './keys.ts';

export const CONTROL_NAMESPACE = 'weft-system';
export const CONTROL_SERVICE_ACCOUNT = 'weft-control';
export const DEFAULT_CONTROL_DNS_NAMES = ['localhost', 'weft-control.weft-system.svc', 'weft-control.weft-system.svc.cluster.local'];
/** Reissued at each start; long enough that a running control plane does not need to rotate soon. */
export const CONTROL_CERT_TTL_SECONDS = 90 * 24 * 3600;

export function controlPlaneIdentity(trustDomain: string): string {
  return formatWorkloadIdentity({ trustDomain, namespace: CONTROL_NAMESPACE, serviceAccount: CONTROL_SERVICE_ACCOUNT });
}

export interface ControlPlaneCertificate {
  keyPem: string;
  /** Leaf first, root last. */
  chainPem: string;
  identity: string;
  notAfter: number;
}

export function issueControlPlaneCertificate(
  ca: CertificateAuthority,
  o: { trustDomain: string; ipAddresses?: readonly string[]; dnsNames?: readonly string[]; validitySeconds?: number; now?: number },
): ControlPlaneCertificate {
  const { privateKey } = generateEcKeyPair();
  const info = publicKeyInfoOf(privateKey);
  const identity = controlPlaneIdentity(o.trustDomain);
  const ips = [...new Set(o.ipAddresses ?? ['127.0.0.1', '::1'])].filter((ip) => ip !== '0.0.0.0' && ip !== '::');
  const sans: GeneralName[] = [
    { type: 'uri', value: identity },
    ...[...new Set(o.dnsNames ?? DEFAULT_CONTROL_DNS_NAMES)].map((value): GeneralName => ({ type: 'dns', value })),
    ...ips.map((value): GeneralName => ({ type: 'ip', value })),
  ];
  const now = o.now ?? Date.now();
  const chain = ca.issue({ spki: info.der, publicKeyBits: info.publicKey, key: info.algorithm, sans, usage: 'server', validitySeconds: o.validitySeconds ?? CONTROL_CERT_TTL_SECONDS, now });
  return { keyPem: privateKeyPem(privateKey), chainPem: chain.join(''), identity, notAfter: Math.min(now + (o.validitySeconds ?? CONTROL_CERT_TTL_SECONDS) * 1000, ca.notAfter) };
}
