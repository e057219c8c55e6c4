/**
 * Writing `cacerts` directories, as Istio's tools/certs Makefile lays them out:
 * a root directory with root-cert.pem and root-key.pem, and per cluster a directory with
 * ca-cert.pem, ca-key.pem, root-cert.pem and cert-chain.pem (ca-cert then root-cert), ready for
 * `weft control --cacerts DIR`. Existing keys are never overwritten: losing a root key is final.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeIntermediateCa, makeRootCa } from './ca-certs.ts';
import { CA_FILES } from './ca-material.ts';
import { ensurePrivateDir, errno, writeFileAtomic } from './state-dir.ts';

export const ROOT_FILES = { cert: 'root-cert.pem', key: 'root-key.pem' } as const;

async function refuseExisting(dir: string, files: readonly string[]): Promise<void> {
  for (const f of files) {
    try {
      await stat(join(dir, f));
    } catch (err) {
      if (errno(err) === 'ENOENT') continue;
      throw err;
    }
    throw new Error(`${join(dir, f)} already exists; remove it or choose another --out (Weft never overwrites a CA key)`);
  }
}

export async function writeRootCaDir(out: string, o: { org?: string; cn?: string; days?: number } = {}): Promise<{ certPath: string; keyPath: string }> {
  await refuseExisting(out, [ROOT_FILES.key, ROOT_FILES.cert]);
  await ensurePrivateDir(out);
  const root = makeRootCa(o);
  const keyPath = join(out, ROOT_FILES.key);
  const certPath = join(out, ROOT_FILES.cert);
  await writeFileAtomic(keyPath, root.keyPem, 0o600);
  await writeFileAtomic(certPath, root.certPem, 0o644);
  return { certPath, keyPath };
}

export async function writeIntermediateCaDir(o: { rootDir: string; name: string; out: string; org?: string; cn?: string; days?: number }): Promise<string[]> {
  const read = async (f: string): Promise<string> => {
    try {
      return await readFile(join(o.rootDir, f), 'utf8');
    } catch (err) {
      if (errno(err) === 'ENOENT') throw new Error(`${join(o.rootDir, f)} is missing: make the root first with \`weft ca root --out ${o.rootDir}\``);
      throw err;
    }
  };
  const [rootCertPem, rootKeyPem] = await Promise.all([read(ROOT_FILES.cert), read(ROOT_FILES.key)]);
  await refuseExisting(o.out, [CA_FILES.caKey, CA_FILES.caCert]);
  const ca = makeIntermediateCa({ rootCertPem, rootKeyPem, name: o.name, ...pick(o) });
  await ensurePrivateDir(o.out);
  const files: [string, string, number][] = [
    [CA_FILES.caKey, ca.keyPem, 0o600],
    [CA_FILES.caCert, ca.certPem, 0o644],
    [CA_FILES.rootCert, rootCertPem, 0o644],
    [CA_FILES.certChain, ca.certPem + (rootCertPem.endsWith('\n') ? rootCertPem : `${rootCertPem}\n`), 0o644],
  ];
  for (const [f, text, mode] of files) await writeFileAtomic(join(o.out, f), text, mode);
  return files.map(([f]) => join(o.out, f));
}

function pick(o: { org?: string; cn?: string; days?: number }): { org?: string; cn?: string; days?: number } {
  return { ...(o.org ? { org: o.org } : {}), ...(o.cn ? { cn: o.cn } : {}), ...(o.days ? { days: o.days } : {}) };
}
