/**
 * Where the CA's key and certificates come from (design.md 4, 5): a plugged-in `cacerts`
 * directory with Istio's file names, or the state directory, where a self-signed root is made at
 * first start and reused on every later start. Everything is checked on load (key matches
 * certificate, chain links verify, CA flag set, not expired) so a bad directory fails at startup
 * with a message, not at the first CSR.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatName, parseCertificate, parsePublicKeyInfo, pemDecodeAll, pemEncode, type ParsedCertificate } from '../../../core/identity/index.ts';
import { CertificateAuthority } from './authority.ts';
import { makeRootCa } from './ca-certs.ts';
import { ensurePrivateDir, errno, writeFileAtomic } from './state-dir.ts';

/** Istio's cacerts file names. */
export const CA_FILES = { caCert: 'ca-cert.pem', caKey: 'ca-key.pem', rootCert: 'root-cert.pem', certChain: 'cert-chain.pem' } as const;

export interface LoadCaOptions {
  stateDir: string;
  cacertsDir?: string | undefined;
  trustDomain: string;
  now?: number;
}

export async function loadOrCreateCa(o: LoadCaOptions): Promise<CertificateAuthority> {
  if (o.cacertsDir) return loadCaDir(o.cacertsDir, o.now);
  const present = await Promise.all(Object.values(CA_FILES).map((f) => exists(join(o.stateDir, f))));
  if (present.some(Boolean)) return loadCaDir(o.stateDir, o.now);
  await ensurePrivateDir(o.stateDir);
  // Istio's self-signed CA names its organisation after the trust domain
  const root = makeRootCa({ org: o.trustDomain, cn: 'Weft Root CA', ...(o.now ? { now: o.now } : {}) });
  // key first, exclusively: a second control plane starting at the same moment loads the first's
  // root instead of making its own; a crash between writes leaves a key without a cert, which
  // loadCaDir reports
  try {
    await writeFileAtomic(join(o.stateDir, CA_FILES.caKey), root.keyPem, 0o600, { exclusive: true });
  } catch (err) {
    if (errno(err) === 'EEXIST') return loadCaDir(o.stateDir, o.now);
    throw err;
  }
  await writeFileAtomic(join(o.stateDir, CA_FILES.caCert), root.certPem, 0o644);
  await writeFileAtomic(join(o.stateDir, CA_FILES.certChain), root.certPem, 0o644);
  await writeFileAtomic(join(o.stateDir, CA_FILES.rootCert), root.certPem, 0o644);
  return loadCaDir(o.stateDir, o.now);
}

/** Loads `ca-cert.pem`, `ca-key.pem`, `root-cert.pem` and (optional) `cert-chain.pem` from a directory. */
export async function loadCaDir(dir: string, now = Date.now()): Promise<CertificateAuthority> {
  const read = async (f: string, required: boolean): Promise<string | undefined> => {
    try {
      return await readFile(join(dir, f), 'utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT' && !required) return undefined;
      if (errno(err) === 'ENOENT') throw new Error(`${join(dir, f)} is missing: a CA directory needs ${Object.values(CA_FILES).join(', ')} (cert-chain.pem optional)`);
      throw err;
    }
  };
  const [caCertText, caKeyText, rootText, chainText] = await Promise.all([read(CA_FILES.caCert, true), read(CA_FILES.caKey, true), read(CA_FILES.rootCert, true), read(CA_FILES.certChain, false)]);
  return caFromPems({ caCertPem: caCertText!, caKeyPem: caKeyText!, rootCertPem: rootText!, ...(chainText ? { certChainPem: chainText } : {}), source: dir, now });
}

export interface CaPems {
  caCertPem: string;
  caKeyPem: string;
  rootCertPem: string;
  certChainPem?: string;
  /** A directory or a label, for messages. */
  source: string;
  now?: number;
}

/** Builds a CA from PEM texts (what loadCaDir read), with the same checks. */
export function caFromPems(p: CaPems): CertificateAuthority {
  const dir = p.source;
  const now = p.now ?? Date.now();
  const certsIn = (text: string, f: string): Uint8Array[] => {
    const ders = pemDecodeAll(text).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
    if (ders.length === 0) throw new Error(`${join(dir, f)} holds no PEM CERTIFICATE`);
    return ders;
  };
  const caDer = certsIn(p.caCertPem, CA_FILES.caCert)[0]!;
  const roots = certsIn(p.rootCertPem, CA_FILES.rootCert);
  const chain = p.certChainPem ? certsIn(p.certChainPem, CA_FILES.certChain) : [];
  // the served chain: ca-cert, then cert-chain.pem's issuers, ending in one root, no duplicates
  const links: Uint8Array[] = [caDer, ...chain.filter((d, i) => !(i === 0 && same(d, caDer)))];
  const last = links[links.length - 1]!;
  if (!roots.some((r) => same(r, last))) {
    const issuer = roots.find((r) => new X509Certificate(Buffer.from(last)).checkIssued(new X509Certificate(Buffer.from(r))));
    if (!issuer) throw new Error(`${dir}: no certificate in ${CA_FILES.rootCert} issued ${describe(last)}; is cert-chain.pem from another root?`);
    if (!same(issuer, last)) links.push(issuer);
  }
  for (let i = 0; i + 1 < links.length; i++) {
    const child = new X509Certificate(Buffer.from(links[i]!));
    const parent = new X509Certificate(Buffer.from(links[i + 1]!));
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) throw new Error(`${dir}: ${describe(links[i]!)} is not signed by ${describe(links[i + 1]!)}`);
  }
  const parsed = links.map((d) => parseCertificate(d));
  const cert = parsed[0]!;
  if (!cert.basicConstraints?.ca) throw new Error(`${join(dir, CA_FILES.caCert)} is not a CA certificate (basicConstraints CA:TRUE missing)`);
  const chainNotAfter = Math.min(...parsed.map((p) => p.notAfter));
  if (chainNotAfter <= now) throw new Error(`${dir}: the CA chain expired at ${new Date(chainNotAfter).toISOString()}`);
  let key;
  try {
    key = createPrivateKey(p.caKeyPem);
  } catch (err) {
    throw new Error(`${join(dir, CA_FILES.caKey)} is not a readable private key: ${(err as Error).message}`);
  }
  const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!same(keySpki, cert.publicKey.der)) throw new Error(`${join(dir, CA_FILES.caKey)} does not belong to ${join(dir, CA_FILES.caCert)}`);
  const keyAlgorithm = parsePublicKeyInfo(keySpki).algorithm;
  if (keyAlgorithm.kind !== 'ec' && keyAlgorithm.kind !== 'rsa') throw new Error(`${join(dir, CA_FILES.caKey)}: CA keys must be EC or RSA`);
  return new CertificateAuthority({ key, keyAlgorithm, cert, chainPems: links.map((d) => pemEncode('CERTIFICATE', d)), chainNotAfter, source: dir });
}

function describe(der: Uint8Array): string {
  const c: ParsedCertificate = parseCertificate(der);
  return `"${formatName(c.subject)}"`;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errno(err) === 'ENOENT') return false;
    throw err;
  }
}
