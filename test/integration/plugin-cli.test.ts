/**
 * `weft plugin new|build|test` as an author runs them, against the built bundle: each kind's
 * scaffold builds and its generated cases pass; a wrong expectation makes `plugin test` fail.
 * Componentizing takes seconds per plugin, so each kind is built once (test reuses the build cache).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEFT_BIN, assertBuilt } from '../support/weft-child.ts';

const run = promisify(execFile);

async function weft(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [WEFT_BIN, ...args], { timeout: 90_000 });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

let tmp: string;
beforeAll(async () => {
  assertBuilt();
  tmp = await mkdtemp(join(tmpdir(), 'weft-plugin-cli-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('weft plugin', () => {
  it('new, build and test an http-filter; a failing case exits non-zero', async () => {
    const made = await weft('plugin', 'new', 'hello', '--kind', 'http-filter', '--dir', tmp);
    expect(made.code, made.out).toBe(0);
    const dir = join(tmp, 'hello');
    for (const f of ['weft-plugin.json', 'plugin.ts', 'plugin.test.ts', 'tsconfig.json', 'README.md']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(made.out).toContain('weft plugin build');

    const built = await weft('plugin', 'build', dir);
    expect(built.code, built.out).toBe(0);
    expect(built.out).toContain('bundling');
    expect(built.out).toContain('componentizing');
    const sha = /sha256\s+([0-9a-f]{64})/.exec(built.out)?.[1];
    expect(sha, built.out).toBeDefined();
    expect(built.out).toContain(`url: file://${join(dir, 'dist', 'hello.wasm')}`);
    expect(built.out).toContain(`sha256: ${sha}`);
    expect(existsSync(join(dir, 'dist', 'hello.wasm'))).toBe(true);

    const tested = await weft('plugin', 'test', dir);
    expect(tested.code, tested.out).toBe(0);
    expect(tested.out).toMatch(/passed: 3 passed, 0 failed/);
    expect(tested.out).toContain('unchanged since the last build'); // plugin build's output was reused

    // a wrong expectation: the difference is printed and the exit code says so
    const testFile = join(dir, 'plugin.test.ts');
    const text = await readFile(testFile, 'utf8');
    await writeFile(testFile, text.replace("requestHeaders: { 'x-greeting': 'hi' }", "requestHeaders: { 'x-greeting': 'bye' }"));
    const failed = await weft('plugin', 'test', dir);
    expect(failed.code, failed.out).not.toBe(0);
    expect(failed.out).toContain('FAIL adds the greeting header');
    expect(failed.out).toContain('request header x-greeting: expected "bye", got "hi"');
    expect(failed.out).toMatch(/2 passed, 1 failed/);
  }, 150_000);

  it.each(['l4-policy', 'endpoint-picker'])('new and test a %s', async (kind) => {
    const made = await weft('plugin', 'new', `p-${kind}`, '--kind', kind, '--dir', tmp);
    expect(made.code, made.out).toBe(0);
    const tested = await weft('plugin', 'test', join(tmp, `p-${kind}`));
    expect(tested.code, tested.out).toBe(0);
    expect(tested.out).toMatch(/passed: \d+ passed, 0 failed/);
  }, 120_000);

  it('refuses a bad kind and a bad directory', async () => {
    const bad = await weft('plugin', 'new', 'x', '--kind', 'tcp-filter', '--dir', tmp);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain('kind must be one of');
    const missing = await weft('plugin', 'build', join(tmp, 'nope'));
    expect(missing.code).not.toBe(0);
    expect(missing.out).toContain('weft-plugin.json');
  }, 30_000);
});
