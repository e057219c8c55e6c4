import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkComponentHeader, checkSha256, fetchComponentBytes, sha256Hex } from './fetch-component.ts';

const component = new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]);

describe('fetching a plugin component', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-fetch-'));
  writeFileSync(join(dir, 'p.wasm'), component);

  it('reads built-in plugins from the built-in directory, and other file:// paths', async () => {
    expect(await fetchComponentBytes('file:///builtin/p.wasm', { builtinDir: dir })).toEqual(component);
    expect(await fetchComponentBytes(`file://${join(dir, 'p.wasm')}`, { builtinDir: '/nowhere' })).toEqual(component);
    await expect(fetchComponentBytes('file:///builtin/nope.wasm', { builtinDir: dir })).rejects.toThrow(/cannot read file:\/\/\/builtin\/nope.wasm \(no file/);
  });

  it('refuses oci:// and unknown schemes clearly', async () => {
    await expect(fetchComponentBytes('oci://r/p:1', { builtinDir: dir })).rejects.toThrow('OCI images are not supported yet');
    await expect(fetchComponentBytes('ftp://x/p.wasm', { builtinDir: dir })).rejects.toThrow(/unsupported plugin URL/);
  });

  it('names both hashes on a mismatch', () => {
    const good = sha256Hex(component);
    expect(checkSha256(component, good.toUpperCase(), 'u')).toBe(good);
    expect(() => checkSha256(component, '00'.repeat(32), 'u')).toThrow(`sha256 mismatch for u: expected ${'00'.repeat(32)}, got ${good}`);
  });

  it('tells a core module and junk from a component', () => {
    expect(() => checkComponentHeader(component, 'u')).not.toThrow();
    expect(() => checkComponentHeader(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), 'u')).toThrow(/core WebAssembly module, not a component/);
    expect(() => checkComponentHeader(new TextEncoder().encode('<html>oops</html>'), 'u')).toThrow(/not a WebAssembly component/);
  });
});
