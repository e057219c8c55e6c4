import { afterEach, describe, expect, it, vi } from 'vitest';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { runAnalyze } from './analyze-run.ts';
import { buildProgram } from '../cli.ts';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/config/', import.meta.url));
const rel = (p: string) => relative(process.cwd(), `${fixtures}${p}`);

async function run(paths: string[], opts: { mesh?: string; output?: string } = {}) {
  const lines: string[] = [];
  const code = await runAnalyze(paths, opts, (l) => lines.push(l));
  return { code, lines };
}

describe('weft analyze', () => {
  afterEach(() => {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  });

  it('reports a clean directory', async () => {
    const { code, lines } = await run([rel('valid')]);
    expect(code).toBe(0);
    expect(lines).toEqual([`✔ No validation issues found when analyzing ${rel('valid')}.`]);
  });

  it('prints every error and warning with file, line, resource and field, and exits 1 on errors', async () => {
    const { code, lines } = await run([rel('invalid')]);
    expect(code).toBe(1);
    const base = rel('invalid');
    expect(lines).toContain(`Error ${base}/routes.yaml:16: VirtualService default/reviews: spec.http[0].route[1].weight: must be 0..100`);
    expect(lines.some((l) => l.startsWith(`Warning ${base}/other.yaml:1: Deployment web: apps/v1 Deployment is not used outside Kubernetes`))).toBe(true);
    expect(lines.at(-1)).toMatch(/^Error: 1 error and \d+ warnings? in 2 files/);
  });

  it('exits 0 with only warnings', async () => {
    const { code, lines } = await run([`${rel('invalid')}/other.yaml`]);
    expect(code).toBe(0);
    expect(lines.at(-1)).toMatch(/^Warning: 0 errors and 1 warning in 1 file/);
  });

  it('reads a mesh file and files given one by one', async () => {
    const { code, lines } = await run([`${rel('valid')}/cart.yaml`, `${rel('valid')}/namespace.yaml`], { mesh: rel('mesh-config.yaml'), output: 'json' });
    expect(code).toBe(0);
    const out = JSON.parse(lines.join('\n'));
    expect(out.errors).toBe(0);
    expect(out.files).toHaveLength(2);
  });

  it('reports a path that does not exist', async () => {
    const { code, lines } = await run(['no/such/dir']);
    expect(code).toBe(1);
    expect(lines[0]).toMatch(/^Error no\/such\/dir: cannot read: ENOENT/);
  });

  it('is wired into the weft command line with a non-zero exit code on errors', async () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    await buildProgram().parseAsync(['node', 'weft', 'analyze', rel('invalid')]);
    expect(process.exitCode).toBe(1);
    expect(out.join('')).toContain('spec.http[0].route[1].weight: must be 0..100');
  });
});
