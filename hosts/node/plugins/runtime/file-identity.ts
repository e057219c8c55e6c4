/**
 * A component file's sha256 remembered by the file's identity (device, inode, size, change and
 * modification times in nanoseconds), so that loading the same unchanged file again (another
 * WasmPlugin naming it, a config-only change) neither reads nor hashes its bytes.
 *
 * Why: a QuickJS component is ~1.6 MB. Read on every load, each read is a large malloc that glibc
 * keeps after it is freed (its mmap threshold rises to the largest freed chunk, so later ones come
 * from the heap and fragment it): in test/bench/plugins/micro.ts that was 0.3-0.8 MB of RSS per
 * instance that no instance holds (docs/benchmarks.md, "Per-request cost, second pass").
 *
 * A changed file changes its ctime (any write or rename onto it does, and user space cannot set
 * it), so a stale sha256 is never reused; `file://` URLs only (http(s) bodies have no identity).
 */
import { stat } from 'node:fs/promises';

export type FileIdentity = string;

/**
 * How old a file's last change must be before its identity is trusted. File times come from a
 * coarse clock (a kernel tick, up to 10 ms here), so two writes of the same size within one tick
 * look alike; a file changed in the last `SETTLE_MS` is read every time (as git treats a "racy" file).
 */
export const SETTLE_MS = 2000;

export interface FileStamp {
  id: FileIdentity;
  /** changed long enough ago that a later change is sure to show in its times */
  settled: boolean;
}

/** the file at `path` now; undefined when it cannot be stat'ed (the read then reports why) */
export async function fileStamp(path: string, settleMs = SETTLE_MS, now = Date.now()): Promise<FileStamp | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    if (!s.isFile()) return undefined;
    const changedMs = Number((s.ctimeNs > s.mtimeNs ? s.ctimeNs : s.mtimeNs) / 1_000_000n);
    return { id: `${s.dev}:${s.ino}:${s.size}:${s.ctimeNs}:${s.mtimeNs}`, settled: now - changedMs >= settleMs };
  } catch {
    return undefined;
  }
}

/** path -> (identity, sha256) of the last read; bounded, most recent last */
export class FileShaCache {
  private readonly byPath = new Map<string, { id: FileIdentity; sha256: string }>();

  constructor(private readonly max = 64) {}

  /** the sha256 read from this path when it had this identity, if it was seen */
  get(path: string, id: FileIdentity): string | undefined {
    const e = this.byPath.get(path);
    return e !== undefined && e.id === id ? e.sha256 : undefined;
  }

  /**
   * `stamp` must be taken before the bytes were read (a change during the read then misses next
   * time); an unsettled file is not remembered.
   */
  set(path: string, stamp: FileStamp, sha256: string): void {
    this.byPath.delete(path);
    if (!stamp.settled) return;
    this.byPath.set(path, { id: stamp.id, sha256 });
    if (this.byPath.size > this.max) this.byPath.delete(this.byPath.keys().next().value!);
  }
}
