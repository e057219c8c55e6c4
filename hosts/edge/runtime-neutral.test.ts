/**
 * The edge app must run on Deno and workerd: no `node:` module, Node global or host import in
 * hosts/edge outside the Node-only entry files (entry/node.ts and the upstream it uses,
 * entry/node-fetch.ts, which the Deno entry also runs through Deno's Node compatibility; README.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const HERE = import.meta.dirname;
const NODE_ONLY = new Set(['entry/node.ts', 'entry/node-fetch.ts']);

function files(dir: string, base = ''): string[] {
  return readdirSync(join(HERE, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name), `${base}${e.name}/`) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [`${base}${e.name}`] : []));
}

describe('hosts/edge is runtime-neutral', () => {
  it('uses no node: modules, Node globals or hosts/node outside the Node entry', () => {
    const found: string[] = [];
    for (const f of files('.')) {
      if (NODE_ONLY.has(f)) continue;
      readFileSync(join(HERE, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/from\s+['"]node:|import\(['"]node:|\bprocess\.|\bBuffer\.|hosts\/node\//.test(line) && !/^\s*(\*|\/\/)/.test(line)) found.push(`${f}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });
});
