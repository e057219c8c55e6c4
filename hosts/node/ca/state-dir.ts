/**
 * The control plane's state directory (design.md 5): the self-signed CA's files and the token key.
 * `$WEFT_STATE_DIR` when set (the single binary sets it from `--state`, so every part writes there),
 * else `/var/lib/weft` as root, else `$XDG_STATE_HOME/weft` (default `~/.local/state/weft`).
 */
import { link, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function defaultStateDir(): string {
  if (process.env['WEFT_STATE_DIR']) return process.env['WEFT_STATE_DIR'];
  if (process.getuid?.() === 0) return '/var/lib/weft';
  const base = process.env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(base, 'weft');
}

/** Creates the directory (and parents) readable by its owner only, as it holds keys. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/**
 * Writes through a temporary file and a rename, so a crash never leaves half a key behind;
 * `mode` is set at creation (0600 for keys) rather than after, so the secret is never world-readable.
 * `exclusive`: link instead of rename, failing with EEXIST when another process got there first
 * (two control planes starting on one state directory must not each make their own key).
 */
export async function writeFileAtomic(path: string, data: string, mode: number, opts: { exclusive?: boolean } = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, data, { mode, flag: 'wx' });
  if (!opts.exclusive) return rename(tmp, path);
  try {
    await link(tmp, path);
  } finally {
    await unlink(tmp);
  }
}

export const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;
