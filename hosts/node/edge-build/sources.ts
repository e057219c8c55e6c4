/**
 * Where `weft edge build` finds the edge host's sources (hosts/edge/entry/*.ts) and the packages
 * they import (hono): the Weft package that this bundle belongs to, found by walking up from this
 * module (dist/chunks/ -> dist/ -> the package root; a WEFT_DIST under .tmp/ is two levels deeper).
 * esbuild resolves bare imports from the importing file, so node_modules beside the sources serves.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY = 'hosts/edge/entry/workerd.ts';

export function weftRoot(from = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(join(dir, ENTRY)) && existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'weft') return dir;
      } catch {
        // not ours: keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`weft edge build: the edge host's sources (${ENTRY}) are not beside this weft (looked upwards from ${from}); run it from a Weft checkout or package`);
    dir = up;
  }
}

/** esbuild, loaded only when a build runs (external in weft's bundle, in node_modules). */
export async function loadEsbuild(): Promise<typeof import('esbuild')> {
  try {
    return await import('esbuild');
  } catch (e) {
    throw new Error(`weft edge build needs esbuild (npm install esbuild): ${(e as Error).message}`);
  }
}
