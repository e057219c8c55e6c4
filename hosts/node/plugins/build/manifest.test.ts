import { describe, expect, it } from 'vitest';
import { parseManifest } from './manifest.ts';
import { wasmPluginSnippet } from './snippet.ts';
import { scaffoldFiles } from './templates.ts';

describe('weft-plugin.json', () => {
  it('reads name and kind', () => {
    expect(parseManifest('{"name":"rate-limit","kind":"http-filter","extra":1}')).toEqual({ name: 'rate-limit', kind: 'http-filter' });
  });
  it('says what is wrong', () => {
    expect(() => parseManifest('{')).toThrow(/not JSON/);
    expect(() => parseManifest('{"name":"Bad_Name","kind":"http-filter"}')).toThrow(/DNS label/);
    expect(() => parseManifest('{"name":"ok","kind":"tcp"}')).toThrow(/kind must be one of http-filter, l4-policy, endpoint-picker/);
  });
});

describe('scaffold and snippet', () => {
  it('writes every file, with tsconfig paths to the SDK', () => {
    for (const kind of ['http-filter', 'l4-policy', 'endpoint-picker'] as const) {
      const files = scaffoldFiles('demo', kind, '/opt/weft/plugins/sdk');
      expect(Object.keys(files).sort()).toEqual(['.gitignore', 'README.md', 'plugin.test.ts', 'plugin.ts', 'tsconfig.json', 'weft-plugin.json']);
      expect(JSON.parse(files['weft-plugin.json']!)).toEqual({ name: 'demo', kind });
      const ts = JSON.parse(files['tsconfig.json']!);
      expect(ts.compilerOptions.paths['@weft/plugin-sdk']).toEqual(['/opt/weft/plugins/sdk/index.ts']);
      expect(ts.include).toContain('/opt/weft/plugins/sdk/wit.d.ts');
      // an l4-policy's world has no http interface: importing it would fail the build
      if (kind === 'l4-policy') expect(files['plugin.ts']).not.toMatch(/http/);
    }
  });
  it('prints a WasmPlugin that core/xds/plugins-select.ts reads as the right kind', () => {
    const sha = 'a'.repeat(64);
    expect(wasmPluginSnippet('p', 'http-filter', '/x/p.wasm', sha)).toContain('url: file:///x/p.wasm\n  sha256: ' + sha);
    expect(wasmPluginSnippet('p', 'l4-policy', '/x/p.wasm', sha)).toContain('type: NETWORK');
    expect(wasmPluginSnippet('p', 'endpoint-picker', '/x/p.wasm', sha)).toContain('weft.dev/plugin-kind: endpoint-picker');
  });
});

describe('world imports', async () => {
  const { checkWorldImports } = await import('./world-imports.ts');
  it('allows what the world offers and names what it lacks', () => {
    const bundle = 'import { path } from "weft:plugin/http@0.2.0";\nimport { config } from "weft:plugin/host@0.2.0";\n';
    expect(checkWorldImports(bundle, 'http-filter')).toEqual([]);
    expect(checkWorldImports(bundle, 'l4-policy')).toEqual(["imports 'weft:plugin/http@0.2.0', which the l4-policy world does not offer (it has weft:plugin/host@0.2.0)"]);
    expect(checkWorldImports('import { x } from "weft:plugin/host@0.1.0";', 'endpoint-picker')[0]).toMatch(/host@0.1.0/);
  });
});
