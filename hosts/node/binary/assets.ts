/**
 * The single binary's embedded files (the built-in plugins and the capture addon), packed by
 * scripts/pack-assets.mjs into one brotli archive. They are extracted once per build into
 * `<state dir>/binary/<id>/`: the plugin store reads prepared components from a directory and
 * imports their glue from a file, and process.dlopen needs a file too. Writes go to a temporary
 * directory renamed into place, so a reader sees a whole extraction or none, and the directories of
 * other builds (an upgrade) are removed.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';

export interface ArchiveEntry {
  path: string;
  size: number;
  mode: number;
}

/** the archive's files (index and bytes), checked: no path leaves the target, sizes add up */
export function unpackArchive(archive: Uint8Array): { entry: ArchiveEntry; bytes: Uint8Array }[] {
  const raw = brotliDecompressSync(archive);
  const headLen = raw.readUInt32LE(0);
  const index = JSON.parse(raw.subarray(4, 4 + headLen).toString('utf8')) as ArchiveEntry[];
  let at = 4 + headLen;
  const out: { entry: ArchiveEntry; bytes: Uint8Array }[] = [];
  for (const entry of index) {
    if (typeof entry.path !== 'string' || entry.path.startsWith('/') || entry.path.split('/').includes('..')) throw new Error(`bad path in the binary's assets: ${String(entry.path)}`);
    out.push({ entry, bytes: raw.subarray(at, at + entry.size) });
    at += entry.size;
  }
  if (at !== raw.length) throw new Error(`the binary's asset archive is damaged (${raw.length - at} bytes unaccounted for)`);
  return out;
}

/** `<root>/<id>/`, extracted from `archive()` unless a previous run did */
export function extractOnce(root: string, id: string, archive: () => Uint8Array): string {
  const dir = join(root, id);
  if (existsSync(dir)) return dir;
  const tmp = join(root, `.tmp-${id}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    for (const { entry, bytes } of unpackArchive(archive())) {
      const file = join(tmp, entry.path);
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, bytes, { mode: entry.mode & 0o700 });
    }
    renameSync(tmp, dir);
  } catch (e) {
    try {
      rmSync(tmp, { recursive: true, force: true });
    } catch {
      // nothing was made (the root itself is unusable)
    }
    // another process extracted it first
    if (existsSync(dir)) return dir;
    throw new Error(`cannot extract the binary's built-in files into ${root}: ${(e as Error).message} (set --state DIR or WEFT_STATE_DIR to a writable directory)`);
  }
  // other builds' extractions (this binary replaced an older one); one in use keeps its open files
  for (const name of readdirSync(root)) if (name !== id && !name.startsWith('.')) rmSync(join(root, name), { recursive: true, force: true });
  return dir;
}
