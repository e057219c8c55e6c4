// wit.d.ts is generated from the WIT: this fails when someone changes one and not the other.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

it('wit.d.ts matches plugins/wit (regenerate: node scripts/gen-sdk-types.mjs)', async () => {
  // @ts-expect-error: a plain .mjs script without typings
  const { renderSdkTypes } = (await import('../../scripts/gen-sdk-types.mjs')) as { renderSdkTypes(): Promise<string> };
  expect(await renderSdkTypes()).toBe(readFileSync(new URL('./wit.d.ts', import.meta.url), 'utf8'));
});
