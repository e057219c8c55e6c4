import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonPath, originalDstAvailable, pageOutFileMappings } from './original-dst.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-pageout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pageOutFileMappings (native/original-dst/src/page_out.c)', () => {
  it.skipIf(!originalDstAvailable() || process.platform !== 'linux')('advises every read-only file mapping and never throws', () => {
    const advised = pageOutFileMappings();
    // the node executable alone is ~90 MB of mappings; -1 only on kernels older than 5.4
    expect(advised === -1 || advised > 50e6).toBe(true);
  });

  // The kernel skips pages another process maps too, and this test's own node executable is mapped
  // by every vitest worker: the child runs on a private copy, as weft does on a device where it is
  // the only Node program.
  it.skipIf(!originalDstAvailable() || process.platform !== 'linux')('takes the pages of a private node executable out of the RSS; the process runs on', () => {
    const exe = join(dir, 'node');
    copyFileSync(process.execPath, exe);
    const addon = addonPath();
    expect(addon).toBeDefined();
    const script = `
      const m = { exports: {} };
      process.dlopen(m, ${JSON.stringify(addon)});
      require('node:tls'); require('node:http2'); require('node:crypto').createHash('sha256').update('x').digest();
      const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      const before = rss();
      const advised = m.exports.pageOutFiles();
      const after = rss();
      // the code it needs comes back from the file: work goes on
      const digest = require('node:crypto').createHash('sha256').update('weft').digest('hex');
      process.stdout.write(JSON.stringify({ before, after, advised, digest }));
    `;
    const r = JSON.parse(execFileSync(exe, ['-e', script], { encoding: 'utf8' })) as { before: number; after: number; advised: number; digest: string };
    expect(r.advised).toBeGreaterThan(50e6);
    expect(r.before - r.after).toBeGreaterThan(10e6);
    expect(r.digest).toBe('e627e2237f44543d8b79e2772a7cc79f6c8d0ea2854eef84f69fbef586339c91');
  });
});
