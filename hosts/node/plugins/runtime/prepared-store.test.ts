import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureCacheDir, pruneCache, readPrepared, WRITER_SOURCE, writeMetered } from './prepared-store.ts';

const root = mkdtempSync(join(tmpdir(), 'weft-prepared-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SHA = 'ab'.repeat(32);
const glueText = 'export function instantiate() { if (!globalThis?.process?.env?.JCO_DEBUG) { return; } }\n';

/** the writer's module, fed a fake transpiler (no jco here) */
async function write(sha = SHA): Promise<void> {
  const w = (await import(`data:text/javascript;base64,${Buffer.from(WRITER_SOURCE).toString('base64')}`)) as {
    writePrepared: (t: (b: Uint8Array) => Promise<unknown>, jco: string, bytes: Uint8Array, root: string, sha256: string) => Promise<void>;
  };
  const files = { 'p.js': new TextEncoder().encode(glueText), 'p.core.wasm': new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), 'interfaces/x.d.ts': new Uint8Array(1) };
  await w.writePrepared(async () => ({ files, exports: [['filter', 'instance']] }), 'test', new Uint8Array(), root, sha);
}

describe('prepared store', () => {
  it('writes an entry the reader accepts, without the JCO_DEBUG check', async () => {
    await write();
    const r = await readPrepared(root, SHA);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect([...r.files.modules.keys()]).toEqual(['p.core.wasm']);
    expect(r.files.exports).toEqual([['filter', 'instance']]);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(r.files.glueFile, 'utf8')).toBe('export function instantiate() { return; }\n');
    // a second writer of the same entry loses the rename quietly
    await write();
  });

  it('reports an absent entry as absent and a damaged one as damaged', async () => {
    expect(await readPrepared(root, 'cd'.repeat(32))).toMatchObject({ ok: false, absent: true });
    const sha = 'ef'.repeat(32);
    await write(sha);
    writeFileSync(join(root, sha, 'glue.mjs'), 'export const instantiate = () => globalThis.pwned = 1;\n');
    expect(await readPrepared(root, sha)).toMatchObject({ ok: false, absent: false, reason: 'glue does not match the manifest' });
    writeFileSync(join(root, sha, 'manifest.json'), '{"format":1,');
    expect(await readPrepared(root, sha)).toMatchObject({ ok: false, absent: false });
  });

  it('prefers metered modules for the asked cap, and falls back when they are damaged', async () => {
    const r0 = await readPrepared(root, SHA);
    if (!r0.ok) throw new Error(r0.reason);
    await writeMetered(r0.files.dir, 1024, new Map([['p.core.wasm', new Uint8Array([9, 9])]]), 'weft_fuel');
    const r = await readPrepared(root, SHA, 1024);
    expect(r.ok && r.files.metered?.modules.get('p.core.wasm')).toEqual(new Uint8Array([9, 9]));
    const other = await readPrepared(root, SHA, 512);
    expect(other.ok && other.files.metered).toBeUndefined();
    writeFileSync(join(r0.files.dir, 'metered-1024', 'p.core.wasm'), new Uint8Array([1]));
    const fallback = await readPrepared(root, SHA, 1024);
    expect(fallback.ok && fallback.files.metered === undefined && fallback.files.modules.size).toBe(1);
  });

  it('prunes all but the most recently used entries', async () => {
    const r = join(root, 'prune');
    for (const [i, sha] of ['01', '02', '03'].map((x) => x.repeat(32)).entries()) {
      mkdirSync(join(r, sha), { recursive: true });
      utimesSync(join(r, sha), 1000 + i, 1000 + i);
    }
    mkdirSync(join(r, '.tmp-old'));
    utimesSync(join(r, '.tmp-old'), 1000, 1000);
    mkdirSync(join(r, '.tmp-new'));
    await pruneCache(r, 2);
    expect(readdirSync(r).sort()).toEqual(['.tmp-new', '02'.repeat(32), '03'.repeat(32)]);
  });

  it('refuses a cache dir others can write', async () => {
    const d = join(root, 'shared');
    mkdirSync(d);
    chmodSync(d, 0o777);
    await expect(ensureCacheDir(d)).rejects.toThrow(/writable by others/);
    const mine = join(root, 'mine', 'cache');
    await ensureCacheDir(mine);
    await ensureCacheDir(mine);
  });
});
