/**
 * core/config must run where code generation from strings is forbidden (workerd; design.md 8): zod is
 * configured jitless and yaml never evals. Bundled as a runtime-neutral module and run under Node's
 * `--disallow-code-generation-from-strings`, the pipeline must parse, validate and build a snapshot.
 */
import { describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const ENTRY = `
import { analyzeFiles, formatIssue } from './core/config/index.ts';
import { SAMPLE_FILES } from './core/config/sample/index.ts';
const bad = { path: 'bad.yaml', text: 'apiVersion: networking.istio.io/v1\\nkind: VirtualService\\nmetadata: {name: r}\\nspec:\\n  hosts: [r]\\n  http:\\n  - route:\\n    - destination: {host: r}\\n      weight: 101\\n' };
const r = analyzeFiles([...SAMPLE_FILES, bad]);
console.log(JSON.stringify({ services: r.snapshot.services.length, errors: r.errors.map(formatIssue) }));
`;

describe('core/config without code generation', () => {
  it('runs under --disallow-code-generation-from-strings', async () => {
    const out = await build({
      stdin: { contents: ENTRY, resolveDir: root, loader: 'ts', sourcefile: 'entry.ts' },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      write: false,
      logLevel: 'silent',
    });
    const dir = await mkdtemp(join(tmpdir(), 'weft-nocodegen-'));
    try {
      const file = join(dir, 'entry.mjs');
      await writeFile(file, out.outputFiles[0]!.text);
      const { stdout } = await promisify(execFile)(process.execPath, ['--disallow-code-generation-from-strings', file], { timeout: 20_000 });
      const result = JSON.parse(stdout);
      expect(result.services).toBe(2);
      expect(result.errors).toEqual(['bad.yaml:9: VirtualService default/r: spec.http[0].route[0].weight: must be 0..100']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
