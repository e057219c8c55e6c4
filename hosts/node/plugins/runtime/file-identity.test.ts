/**
 * A component file loaded again unchanged is neither read nor hashed (file-identity.ts), while any
 * change, a file too fresh to judge by its times, and a sha256 pin that does not match are still
 * seen. The loader part uses the bundle's built-in header-rewrite (WEFT_DIST).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PluginBinding } from '../../../../core/plugin/contract.ts';
import { createNodePluginLoader } from '../loader.ts';
import { pluginBinding } from '../../../../test/support/plugin-binding.ts';
import { sha256Hex } from './fetch-component.ts';
import { FileShaCache, fileStamp } from './file-identity.ts';

const repo = resolve(import.meta.dirname, '..', '..', '..', '..');
const builtinDir = resolve(repo, process.env.WEFT_DIST ?? 'dist', 'plugins');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-file-identity-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fileStamp and FileShaCache', () => {
  it('an untouched file keeps its identity; a rewrite of the same size does not', async () => {
    const f = join(dir, 'a.bin');
    writeFileSync(f, 'aaaa');
    const a = (await fileStamp(f))!;
    expect((await fileStamp(f))!.id).toBe(a.id);
    // the same size within one tick of the file clock: the times may not move, but a file renamed
    // over it (as a build writes its output) has another inode
    writeFileSync(`${f}.new`, 'bbbb');
    const { renameSync } = await import('node:fs');
    renameSync(`${f}.new`, f);
    expect((await fileStamp(f))!.id).not.toBe(a.id);
  });

  it('a file changed within the settle time is not settled, so it is not remembered', async () => {
    const f = join(dir, 'fresh.bin');
    writeFileSync(f, 'x');
    const fresh = (await fileStamp(f))!;
    expect(fresh.settled).toBe(false);
    const later = (await fileStamp(f, 2000, Date.now() + 3000))!;
    expect(later.settled).toBe(true);
    const c = new FileShaCache();
    c.set(f, fresh, 'sha-fresh');
    expect(c.get(f, fresh.id)).toBeUndefined();
    c.set(f, later, 'sha-later');
    expect(c.get(f, later.id)).toBe('sha-later');
    expect(c.get(f, 'another identity')).toBeUndefined();
    expect(await fileStamp(join(dir, 'absent'))).toBeUndefined();
  });

  it('keeps at most its bound of paths, the oldest going first', () => {
    const c = new FileShaCache(2);
    const s = (id: string) => ({ id, settled: true });
    c.set('/a', s('1'), 'A');
    c.set('/b', s('1'), 'B');
    c.set('/c', s('1'), 'C');
    expect([c.get('/a', '1'), c.get('/b', '1'), c.get('/c', '1')]).toEqual([undefined, 'B', 'C']);
  });
});

describe('the loader with an unchanged file', () => {
  const binding = (over: Partial<PluginBinding> = {}): PluginBinding => pluginBinding({ name: 'ns.rewrite', url: 'file:///builtin/header-rewrite.wasm', ...over });

  it('reads a settled file once, reads it again when it changes, and still checks the sha256 pin', async () => {
    const mine = mkdtempSync(join(dir, 'builtin-'));
    const file = join(mine, 'header-rewrite.wasm');
    copyFileSync(join(builtinDir, 'header-rewrite.wasm'), file);
    const sha = sha256Hex(readFileSync(file));
    const steps: string[] = [];
    const loader = createNodePluginLoader({
      builtinDir: mine,
      preparedDirs: [join(builtinDir, 'prepared')],
      cacheDir: join(mine, 'cache'),
      fileSettleMs: 0,
      onStep: (step) => {
        if (step.startsWith('fetch')) steps.push(step);
      },
    });
    const first = await loader.load(binding());
    expect(await loader.load(binding({ config: '{"other":1}' }))).toBe(first);
    expect(await loader.load(binding({ sha256: sha.toUpperCase() }))).toBe(first);
    expect(steps).toEqual(['fetch', 'fetch (unchanged file)', 'fetch (unchanged file)']);
    await expect(loader.load(binding({ sha256: 'ab'.repeat(32) }))).rejects.toThrow(`sha256 mismatch for file:///builtin/header-rewrite.wasm: expected ${'ab'.repeat(32)}, got ${sha}`);

    // replaced by other bytes (a rebuild): read again, and its own sha256 is what counts
    const other = readFileSync(file);
    other[other.length - 1] ^= 1;
    writeFileSync(`${file}.new`, other);
    const { renameSync } = await import('node:fs');
    renameSync(`${file}.new`, file);
    steps.length = 0;
    await expect(loader.load(binding({ sha256: sha }))).rejects.toThrow('sha256 mismatch');
    expect(steps).toEqual(['fetch']);
  });
});
