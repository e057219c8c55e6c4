/**
 * `weft proxy-config secret`: the dump's certificates as istioctl shows them. `-o json` is the shape
 * of Envoy's SecretsConfigDump (admin.v3, as istioctl prints it), so scripts written for
 * `istioctl proxy-config secret POD -o json | jq -r '.dynamicActiveSecrets[0].secret.tlsCertificate
 * .certificateChain.inlineBytes' | base64 -d` work unchanged. The private key is never in the dump;
 * its place holds Envoy's own redaction marker, base64 of "[redacted]".
 */
import { X509Certificate } from 'node:crypto';
import type { DumpCertificate } from './dump.ts';

export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
/** base64("[redacted]"), what Envoy's admin puts where a private key would be. */
export const REDACTED_KEY = Buffer.from('[redacted]').toString('base64');
export const ROOT_CA_NAME = 'ROOTCA';

const b64 = (pems: readonly string[]): string => Buffer.from(pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('')).toString('base64');
const iso = (ms: number | undefined): string | undefined => (ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

/** The leaf's fields, from the dump or else parsed from its PEM (an older dump may carry only the chain). */
export function leafFields(c: DumpCertificate): { serial?: string; issuer?: string; notBefore?: number; notAfter?: number } {
  if (c.serial && c.notAfter !== undefined) return { serial: c.serial, issuer: c.issuer, notBefore: c.notBefore, notAfter: c.notAfter };
  const pem = c.chainPems?.[0];
  if (!pem) return {};
  try {
    const x = new X509Certificate(pem);
    return { serial: x.serialNumber.toUpperCase(), issuer: x.issuer.replace(/\n/g, ', '), notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo) };
  } catch {
    return {};
  }
}

export interface SecretsDump {
  dynamicActiveSecrets: unknown[];
  dynamicWarmingSecrets?: unknown[];
}

/** Envoy's SecretsConfigDump: one active secret per held certificate, then ROOTCA; pending ones warm. */
export function secretsConfigDump(certs: readonly DumpCertificate[]): SecretsDump {
  const active: unknown[] = [];
  const warming: unknown[] = [];
  const roots = new Set<string>();
  for (const c of certs) {
    const chain = c.chainPems ?? [];
    for (const r of c.rootPems ?? []) roots.add(r.trim());
    if (!chain.length) {
      warming.push({ name: c.identity, versionInfo: '', secret: { '@type': SECRET_TYPE_URL, name: c.identity } });
      continue;
    }
    const f = leafFields(c);
    active.push({
      name: c.identity,
      versionInfo: f.serial ?? '',
      lastUpdated: iso(f.notBefore),
      secret: {
        '@type': SECRET_TYPE_URL,
        name: c.identity,
        tlsCertificate: { certificateChain: { inlineBytes: b64(chain) }, privateKey: { inlineBytes: REDACTED_KEY } },
      },
    });
  }
  if (roots.size) {
    active.push({
      name: ROOT_CA_NAME,
      versionInfo: '',
      secret: { '@type': SECRET_TYPE_URL, name: ROOT_CA_NAME, validationContext: { trustedCa: { inlineBytes: b64([...roots]) } } },
    });
  }
  return warming.length ? { dynamicActiveSecrets: active, dynamicWarmingSecrets: warming } : { dynamicActiveSecrets: active };
}

export const SECRET_COLUMNS = ['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE', 'ISSUER'];

/** istioctl's secret table (its seven columns, then the issuer); `now` decides VALID CERT. */
export function secretRows(certs: readonly DumpCertificate[], now = Date.now()): string[][] {
  const rows: string[][] = [];
  const roots = new Set<string>();
  for (const c of certs) {
    for (const r of c.rootPems ?? []) roots.add(r.trim());
    const f = leafFields(c);
    const valid = f.notAfter !== undefined && now < f.notAfter && (f.notBefore === undefined || now >= f.notBefore);
    const status = c.state === 'valid' || c.state === 'renewing' ? 'ACTIVE' : c.state.toUpperCase();
    rows.push([c.identity, 'Cert Chain', status, String(valid), f.serial ?? '', iso(f.notAfter) ?? '', iso(f.notBefore) ?? '', f.issuer ?? '']);
  }
  for (const pem of roots) {
    const f = leafFields({ identity: ROOT_CA_NAME, state: 'valid', chainPems: [pem] });
    const valid = f.notAfter !== undefined && now < f.notAfter;
    rows.push([ROOT_CA_NAME, 'CA', 'ACTIVE', String(valid), f.serial ?? '', iso(f.notAfter) ?? '', iso(f.notBefore) ?? '', f.issuer ?? '']);
  }
  return rows;
}
