/**
 * The dependency rule as a test (design.md 2): no file of core/ imports a Node module or a host, or
 * uses Node's `process`/`Buffer`; relative imports name their `.ts` file; generated protobuf code
 * imports only protobufjs/minimal. Unit tests beside the code (`*.test.ts`) run only under vitest on
 * Node, so they may use Node modules, but never a host.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { blank, findImports, formatViolation, scanSource, weakGlobalMentions } from './import-scan.ts';
import type { Violation } from './import-scan.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE = /\.(?:[cm]?ts|tsx|[cm]?js)$/;

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) => (e.isDirectory() ? walk(join(dir, e.name)) : Promise.resolve(SOURCE.test(e.name) ? [join(dir, e.name)] : []))),
  );
  return nested.flat().sort();
}

const opts = { root: ROOT };
const scan = (src: string, file = 'core/config/x.ts'): string[] => scanSource(file, src, opts).map(formatViolation);

describe('core/ keeps the dependency rule', () => {
  it('imports no Node module, no host, no Node global; relative imports carry .ts', async () => {
    const files = await walk(join(ROOT, 'core'));
    expect(files.length).toBeGreaterThan(0);
    const violations: Violation[] = [];
    const mentions: Violation[] = [];
    for (const path of files) {
      const file = relative(ROOT, path).split(sep).join('/');
      const src = await readFile(path, 'utf8');
      const isTest = /\.test\.[cm]?ts$/.test(file);
      violations.push(...scanSource(file, src, { root: ROOT, isTest }));
      if (!isTest) mentions.push(...weakGlobalMentions(file, src));
    }
    // Bare mentions (`typeof process`) are allowed but worth a look.
    for (const m of mentions) console.warn(`warning: ${formatViolation(m)}`);
    expect(violations.map(formatViolation), 'core/ must stay runtime-neutral (design.md 2)').toEqual([]);
  });
});

describe('the scanner', () => {
  it('finds every import form, with its line', () => {
    const src = [
      "import type { A } from './a.ts';",
      "import {",
      "  b,",
      "} from 'yaml';",
      "export * from './c.ts';",
      "import './side.ts';",
      "const d = await import('./d.ts');",
      "const e = require('e');",
      "const f = import(name);",
      '/// <reference types="node" />',
    ].join('\n');
    expect(findImports(src).map((r) => [r.kind, r.specifier])).toEqual([
      ['static', './a.ts'],
      ['static', 'yaml'],
      ['static', './c.ts'],
      ['static', './side.ts'],
      ['dynamic', './d.ts'],
      ['require', 'e'],
      ['dynamic', null],
      ['reference', 'node'],
    ]);
  });

  it('flags node: modules and Node builtins by bare name, naming file and line', () => {
    expect(scan("// ok\nimport { readFile } from 'node:fs/promises';")).toEqual([
      "core/config/x.ts:2: [node-module] 'node:fs/promises' is a Node module: core uses web-standard APIs and asks hosts through core/ports",
    ]);
    for (const name of ['fs', 'net', 'tls', 'http', 'http2', 'crypto', 'child_process', 'worker_threads', 'os', 'path', 'dns', 'stream', 'buffer', 'events', 'util', 'zlib', 'url', 'fs/promises']) {
      expect(scan(`import x from '${name}';`), name).toHaveLength(1);
    }
    expect(scan("const { createHash } = require('crypto');")).toHaveLength(1);
    expect(scan("const m = await import('node:net');")).toHaveLength(1);
    expect(scan("export { EventEmitter } from 'events';")).toHaveLength(1);
    expect(scan('/// <reference types="node" />\nexport {};')).toHaveLength(1);
  });

  it('flags hosts/ imports, missing .ts extensions and computed specifiers', () => {
    expect(scan("import { x } from '../../hosts/node/cli.ts';")[0]).toMatch(/\[host-import\]/);
    expect(scan("import type { Y } from '../../hosts/edge/app.ts';")[0]).toMatch(/\[host-import\]/);
    expect(scan("import { x } from './issues';")[0]).toMatch(/core\/config\/x\.ts:1: \[extension\]/);
    expect(scan("import { x } from './issues.js';")[0]).toMatch(/\[extension\]/);
    expect(scan("import { xds } from '../xds/generated/envoy-pb.js';")).toEqual([]);
    expect(scan('const m = await import(`./${name}.ts`);')[0]).toMatch(/\[computed-import\]/);
  });

  it('holds generated code to protobufjs/minimal', () => {
    const file = 'core/xds/generated/envoy-pb.js';
    expect(scanSource(file, 'import $protobuf from "protobufjs/minimal.js";\nimport "./other-pb.js";', opts)).toEqual([]);
    expect(scanSource(file, 'import $protobuf from "protobufjs";', opts)[0]?.rule).toBe('generated-import');
    expect(scanSource(file, 'import fs from "fs";', opts)[0]?.rule).toBe('generated-import');
  });

  it('fails on process./Buffer. use, warns on bare mentions, ignores comments, strings and properties', () => {
    expect(scan('const a = 1;\nconst env = process.env.WEFT;')).toEqual([
      "core/config/x.ts:2: [node-global] Node global 'process' used: core must not rely on process or Buffer (absent in workerd); take it through core/ports or use Uint8Array/TextEncoder",
    ]);
    expect(scan("const b = Buffer.from('x');")).toHaveLength(1);
    expect(scan("const b = new Buffer('x');")).toHaveLength(1);
    expect(scan('const p = globalThis.process;')).toHaveLength(1);
    expect(scan("const p = globalThis['Buffer'];")).toHaveLength(1);
    expect(scan('const v = `${process.version}`;')).toHaveLength(1);
    const clean = [
      '// process.env is read by the host',
      "const s = 'Buffer.from and process.env';",
      'const t = `process.env ${1 + 1}`;',
      'const o = { process: 1 }; o.process.x; job.Buffer.y;',
      'function process(x: number) { return x; }',
      'const r = /process\\.env/.test(s);',
      "import { x } from './a.ts'; // import fs from 'fs'",
      "/* import net from 'node:net'; */",
    ].join('\n');
    expect(scan(clean)).toEqual([]);
    expect(weakGlobalMentions('f.ts', "if (typeof process === 'undefined') {}").map((v) => v.line)).toEqual([1]);
  });

  it('lets unit tests use Node modules but never a host', () => {
    const test = (src: string) => scanSource('core/config/x.test.ts', src, { root: ROOT, isTest: true });
    expect(test("import { readFile } from 'node:fs/promises';\nconst d = process.cwd();")).toEqual([]);
    expect(test("import { x } from '../../hosts/node/cli.ts';")).toHaveLength(1);
  });

  it('keeps offsets and lines when blanking', () => {
    const src = "a /* x\ny */ 'b//c' `d${e}f` // g\nh";
    const { code, bare } = blank(src);
    expect(code.length).toBe(src.length);
    expect(code.split('\n').length).toBe(3);
    expect(code).toContain("'b//c'");
    expect(bare).toContain('${e}');
    expect(bare).not.toContain('b//c');
  });
});
