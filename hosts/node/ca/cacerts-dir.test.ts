import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { register } from '../commands/ca.ts';
import { loadCaDir } from './ca-material.ts';
import { createKeyAndCsr } from './csr.ts';
import { openssl, tempDir, verifyChain, x509Text } from './test-support.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  cleanups.splice(0).forEach((f) => f());
  vi.restoreAllMocks();
});

async function weft(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  register(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((s: string) => void out.push(s));
  await program.parseAsync(['node', 'weft', ...args]);
  return out.join('\n');
}

describe('weft ca root / weft ca intermediate', () => {
  test('two clusters under one root: files as Istio lays them out, chains verify, leaves cross-verify', async () => {
    const t = tempDir('weft-cacerts-');
    cleanups.push(t.cleanup);
    const rootDir = join(t.dir, 'root');
    await weft(['ca', 'root', '--out', rootDir, '--org', 'Acme', '--cn', 'Acme Root CA', '--days', '100']);
    expect(statSync(join(rootDir, 'root-key.pem')).mode & 0o777).toBe(0o600);
    const rootPem = readFileSync(join(rootDir, 'root-cert.pem'), 'utf8');
    const rootText = x509Text(rootPem);
    expect(rootText).toMatch(/Issuer: O = Acme, CN = Acme Root CA/);
    expect(rootText).toMatch(/Subject: O = Acme, CN = Acme Root CA/);
    expect(rootText).toMatch(/Basic Constraints: critical\s+CA:TRUE/);

    const id = (ns: string) => `spiffe://cluster.local/ns/${ns}/sa/app`;
    for (const cluster of ['cluster1', 'cluster2']) {
      const dir = join(t.dir, cluster);
      await weft(['ca', 'intermediate', '--root', rootDir, '--name', cluster, '--out', dir, '--org', 'Acme']);
      const read = (f: string) => readFileSync(join(dir, f), 'utf8');
      expect(statSync(join(dir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
      expect(read('root-cert.pem')).toBe(rootPem);
      expect(read('cert-chain.pem')).toBe(read('ca-cert.pem') + rootPem);
      const text = x509Text(read('ca-cert.pem'));
      expect(text).toMatch(new RegExp(`Subject: O = Acme, L = ${cluster}, CN = Weft Intermediate CA`));
      expect(text).toMatch(/Issuer: O = Acme, CN = Acme Root CA/);
      expect(text).toMatch(/CA:TRUE, pathlen:0/);
      // cert-chain.pem's first certificate chains to the root
      const f = t.file(`${cluster}-ca.pem`, read('ca-cert.pem'));
      expect(openssl(['verify', '-CAfile', join(rootDir, 'root-cert.pem'), f])).toMatch(/: OK/);

      const ca = await loadCaDir(dir);
      const chain = ca.sign(createKeyAndCsr(id(cluster)).csrPem, { identity: id(cluster) });
      expect(chain).toHaveLength(3);
      expect(chain.slice(1).join('')).toBe(read('cert-chain.pem'));
      // verifies against the shared root alone, with the intermediate as untrusted
      expect(verifyChain(chain, rootPem).ok).toBe(true);
      expect(x509Text(chain[0]!)).toMatch(new RegExp(`Issuer: O = Acme, L = ${cluster}, CN = Weft Intermediate CA`));
    }

    await expect(weft(['ca', 'root', '--out', rootDir])).rejects.toThrow(/root-key.pem already exists/);
    await expect(weft(['ca', 'intermediate', '--root', join(t.dir, 'nope'), '--name', 'c', '--out', join(t.dir, 'c')])).rejects.toThrow(/root-cert.pem is missing: make the root first/);
  });
});
