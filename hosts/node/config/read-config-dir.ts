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

/**
 * Texts of earlier reads by absolute path, with the file's stat then. A file whose stat is unchanged
 * is not read again, and keeps its very string (the Store then compares it in O(1)), unless it was
 * modified shortly before it was read: a second write within the file system's timestamp resolution
 * would leave the stat unchanged, so such a file is read again until it is older (git's "racily
 * clean" rule).
 */
export type ReadCache = Map<string, { mtimeMs: number; ctimeMs: number; size: number; ino: number; text: string; readAt: number }>;

/** How long before a read a file must have last changed for its stat to vouch for its text. */
const RACY_MS = 2000;

async function readCached(p: string, cache: ReadCache | undefined, seen: Set<string>): Promise<string> {
  if (!cache) return readFile(p, 'utf8');
  seen.add(p);
  const st = await stat(p);
  const hit = cache.get(p);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.ctimeMs === st.ctimeMs && hit.size === st.size && hit.ino === st.ino && hit.mtimeMs < hit.readAt - RACY_MS) return hit.text;
  const readAt = Date.now();
  const text = await readFile(p, 'utf8');
  cache.set(p, { mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, size: st.size, ino: st.ino, text, readAt });
  return text;
}

export async function readConfigDir(dir: string, cache?: ReadCache): Promise<DirectoryRead> {
  const files: SourceFile[] = [];
  const unreadable: UnreadableFile[] = [];
  let paths: string[];
  try {
    paths = await listConfigFiles(dir);
  } catch (err) {
    return { files, unreadable: [{ path: '.', message: (err as Error).message }] };
  }
  const seen = new Set<string>();
  await Promise.all(
    paths.map(async (p) => {
      const path = displayPath(dir, p);
      try {
        files.push({ path, text: await readCached(p, cache, seen) });
      } catch (err) {
        // A file removed between listing and reading is simply gone; anything else is reported.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unreadable.push({ path, message: (err as Error).message });
      }
    }),
  );
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (cache) for (const p of cache.keys()) if (!seen.has(p)) cache.delete(p);
  return { files, unreadable };
}
