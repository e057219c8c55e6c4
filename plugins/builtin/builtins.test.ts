/**
 * Every built-in plugin's own cases (<name>/plugin.test.ts, the `weft plugin test` format), run by
 * vitest against the components build.mjs made (dist/plugins/<name>.wasm, what the proxies load for
 * file:///builtin/<name>.wasm), through the proxies' plugin runtime. The same checks as
 * `weft plugin test plugins/builtin/<name>`, without compiling again (that takes seconds a plugin).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPluginForTest } from '../../hosts/node/plugins/loader.ts';
import { checkHttpFilterCase, checkL4Case, checkPickerCase } from '../../core/plugin/run-cases.ts';
import type { EndpointPickerCase, HttpFilterCase, L4PolicyCase, PluginTests } from '../sdk/testing.ts';

const here = resolve(import.meta.dirname);
const dist = resolve(process.env.WEFT_DIST ?? 'dist', 'plugins');
const names = readdirSync(here, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(join(here, e.name, 'weft-plugin.json')))
  .map((e) => e.name)
  .sort();

it('finds the five built-ins', () => {
  expect(names).toEqual(['ab-router', 'header-rewrite', 'jwt-claims', 'l4-allow-list', 'rate-limit']);
});

for (const name of names) {
  describe(name, async () => {
    const tests = ((await import(join(here, name, 'plugin.test.ts'))) as { default: PluginTests }).default;
    const wasm = join(dist, `${name}.wasm`);

    it('has 4-8 cases', () => {
      expect(tests.cases.length).toBeGreaterThanOrEqual(4);
      expect(tests.cases.length).toBeLessThanOrEqual(8);
    });

    for (const c of tests.cases) {
      it(c.name, async () => {
        if (!existsSync(wasm)) throw new Error(`${wasm} is missing: run \`node build.mjs\` first (npm test does)`);
        const config = JSON.stringify(('config' in c && c.config !== undefined ? c.config : tests.config) ?? {});
        // one fresh instance (and key-value store) per case, as `weft plugin test` does
        const p = await loadPluginForTest(readFileSync(wasm), { config });
        const diffs =
          'connection' in c
            ? checkL4Case(p.l4!, c as L4PolicyCase)
            : 'candidates' in c
              ? checkPickerCase(p.picker!, c as EndpointPickerCase)
              : checkHttpFilterCase(p.filter!, c as HttpFilterCase);
        expect(diffs).toEqual([]);
      });
    }
  });
}
