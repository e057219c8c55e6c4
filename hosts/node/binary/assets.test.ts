import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { collectFiles, packAssets } from '../../../scripts/pack-assets.mjs';
import { extractOnce, unpackArchive } from './assets.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-assets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function archiveOf(raw: Buffer): Uint8Array {
  return brotliCompressSync(raw);
}

describe('the binary asset archive', () => {
  it('packs a tree (scripts/pack-assets.mjs) and extracts it once, whole, into <root>/<id>/', async () => {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'prepared', 'abc'), { recursive: true });
    writeFileSync(join(src, 'a.wasm'), 'component');
    writeFileSync(join(src, 'prepared', 'abc', 'glue.mjs'), 'export const x = 1;');
    const packed = await packAssets(await collectFiles(src, 'plugins'));
    expect(packed.id).toMatch(/^[0-9a-f]{16}$/);
    const root = join(dir, 'state', 'binary');
    mkdirSync(root, { recursive: true });
    mkdirSync(join(root, 'old-build')); // another build's extraction goes
    let reads = 0;
    const archive = () => (reads++, packed.archive);
    const out = extractOnce(root, packed.id, archive);
    expect(out).toBe(join(root, packed.id));
    expect(readFileSync(join(out, 'plugins', 'prepared', 'abc', 'glue.mjs'), 'utf8')).toBe('export const x = 1;');
    expect(statSync(join(out, 'plugins', 'a.wasm')).mode & 0o077).toBe(0); // owner only: the glue is code
    expect(readdirSync(root)).toEqual([packed.id]);
    expect(extractOnce(root, packed.id, archive)).toBe(out);
    expect(reads).toBe(1);
  });

  it('refuses paths that leave the target and damaged archives', () => {
    const withIndex = (index: unknown[], body: Buffer): Buffer => {
      const head = Buffer.from(JSON.stringify(index));
      const len = Buffer.alloc(4);
      len.writeUInt32LE(head.length);
      return Buffer.concat([len, head, body]);
    };
    expect(() => unpackArchive(archiveOf(withIndex([{ path: '../x', size: 1, mode: 0o600 }], Buffer.from('x'))))).toThrow(/bad path/);
    expect(() => unpackArchive(archiveOf(withIndex([{ path: '/etc/x', size: 1, mode: 0o600 }], Buffer.from('x'))))).toThrow(/bad path/);
    expect(() => unpackArchive(archiveOf(withIndex([{ path: 'x', size: 1, mode: 0o600 }], Buffer.from('xy'))))).toThrow(/damaged/);
    expect(unpackArchive(archiveOf(withIndex([{ path: 'x', size: 2, mode: 0o600 }], Buffer.from('xy'))))[0]!.entry.path).toBe('x');
  });

  it('says where to point the state dir when it cannot write', () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    expect(() => extractOnce(join(file, 'binary'), '0123456789abcdef', () => archiveOf(Buffer.alloc(4)))).toThrow(/--state DIR or WEFT_STATE_DIR/);
  });
});
