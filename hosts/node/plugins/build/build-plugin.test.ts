// The checks buildPlugin makes before componentizing (cheap: no component is built here; the
// integration test test/integration/plugin-cli.test.ts builds real ones).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPlugin } from './build-plugin.ts';
import { bundlePlugin } from './bundle.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-build-plugin-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('buildPlugin', () => {
  it('needs weft-plugin.json', async () => {
    await expect(buildPlugin({ dir })).rejects.toThrow(/weft-plugin.json not found/);
  });

  it('refuses an import the world lacks before componentizing', async () => {
    await writeFile(join(dir, 'weft-plugin.json'), '{"name":"p","kind":"l4-policy"}');
    await writeFile(join(dir, 'plugin.ts'), "import { path } from 'weft:plugin/http@0.2.0';\nexport const connectionPolicy = { check: () => (path() ? { tag: 'allow' } : { tag: 'deny', val: '' }) };\n");
    const progress: string[] = [];
    await expect(buildPlugin({ dir, onProgress: (l) => progress.push(l) })).rejects.toThrow(/imports 'weft:plugin\/http@0.2.0', which the l4-policy world does not offer/);
    expect(progress.some((l) => l.startsWith('componentizing'))).toBe(false);
  });

  it('bundles the SDK into the plugin and leaves weft:plugin imports to the componentizer', async () => {
    await writeFile(
      join(dir, 'plugin.ts'),
      "import { decision, defineL4Policy } from '@weft/plugin-sdk';\nexport const connectionPolicy = defineL4Policy(() => decision.allow());\n",
    );
    const js = await bundlePlugin({ entry: join(dir, 'plugin.ts') });
    expect(js).toMatch(/from "weft:plugin\/host@0.2.0"/);
    expect(js).toContain('function defineL4Policy');
    expect(js).not.toMatch(/weft:plugin\/http/);
  });
});
