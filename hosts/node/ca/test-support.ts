/**
 * Test helpers for the CA tests: run openssl (the independent judge of what Weft writes) on
 * temporary files. Used only by *.test.ts files.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const OPENSSL = '/usr/bin/openssl';

export function openssl(args: string[], input?: string): string {
  return execFileSync(OPENSSL, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Like openssl(), but returns stdout+stderr and the exit status instead of throwing. */
export function opensslResult(args: string[]): { ok: boolean; output: string } {
  try {
    return { ok: true, output: execFileSync(OPENSSL, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export function tempDir(prefix = 'weft-ca-'): { dir: string; file: (name: string, text?: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    file: (name, text) => {
      const p = join(dir, name);
      if (text !== undefined) writeFileSync(p, text);
      return p;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `openssl verify -CAfile root -untrusted <intermediates> leaf`: true when the chain verifies. */
export function verifyChain(chain: readonly string[], rootPem: string, extra: string[] = []): { ok: boolean; output: string } {
  const t = tempDir('weft-verify-');
  try {
    const leaf = t.file('leaf.pem', chain[0]!);
    const root = t.file('root.pem', rootPem);
    const middle = chain.slice(1).filter((p) => p !== rootPem);
    const args = ['verify', '-CAfile', root, ...extra];
    if (middle.length) args.push('-untrusted', t.file('untrusted.pem', middle.join('')));
    args.push(leaf);
    const r = opensslResult(args);
    return { ok: r.ok && /: OK\s*$/.test(r.output), output: r.output };
  } finally {
    t.cleanup();
  }
}

export function x509Text(pem: string): string {
  return openssl(['x509', '-noout', '-text'], pem);
}

/** An openssl-made key and CSR (`openssl req -new -key ... -subj / -addext subjectAltName=...`). */
export function opensslCsr(keyArgs: string[], san: string | undefined, subj = '/'): { keyPem: string; csrPem: string } {
  const t = tempDir('weft-csr-');
  try {
    const key = t.file('key.pem');
    openssl(['genpkey', ...keyArgs, '-out', key]);
    const args = ['req', '-new', '-key', key, '-subj', subj];
    if (san) args.push('-addext', `subjectAltName=${san}`);
    const csrPem = openssl(args);
    return { keyPem: openssl(['pkey', '-in', key]), csrPem };
  } finally {
    t.cleanup();
  }
}

export const EC_P256 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
export const EC_P384 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'];
export const RSA = (bits: number): string[] => ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`];
