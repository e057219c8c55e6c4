/**
 * Reads a directory of config: every `*.yaml` / `*.yml` below it, recursively, following symlinks (a
 * Kubernetes ConfigMap volume is symlinks into `..data`), skipping hidden entries (that `..data`
 * directory itself, editor files). Paths come back relative to the directory, with `/` separators.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { SourceFile } from '../../../core/ports/index.ts';
import type { UnreadableFile } from '../../../core/config/index.ts';

export const CONFIG_EXTENSIONS = ['.yaml', '.yml'];

export interface DirectoryRead {
  files: SourceFile[];
  unreadable: UnreadableFile[];
}

export function isConfigFile(name: string): boolean {
  return !name.startsWith('.') && CONFIG_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext));
}

/** Every config file path below `dir` (absolute), sorted. */
export async function listConfigFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = join(d, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const st = await stat(full).catch(() => undefined);
        isDir = !!st?.isDirectory();
        isFile = !!st?.isFile();
      }
      if (isDir && !seen.has(full)) {
        seen.add(full);
        await walk(full);
      } else if (isFile && isConfigFile(e.name)) {
        out.push(full);
      }
    }
  };
  await walk(dir);
  return out.sort();
}

export const displayPath = (root: string, file: string) => relative(root, file).split(sep).join('/');

export async function readConfigDir(dir: string): Promise<DirectoryRead> {
  const files: SourceFile[] = [];
  const unreadable: UnreadableFile[] = [];
  let paths: string[];
  try {
    paths = await listConfigFiles(dir);
  } catch (err) {
    return { files, unreadable: [{ path: '.', message: (err as Error).message }] };
  }
  await Promise.all(
    paths.map(async (p) => {
      const path = displayPath(dir, p);
      try {
        files.push({ path, text: await readFile(p, 'utf8') });
      } catch (err) {
        // A file removed between listing and reading is simply gone; anything else is reported.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unreadable.push({ path, message: (err as Error).message });
      }
    }),
  );
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, unreadable };
}
