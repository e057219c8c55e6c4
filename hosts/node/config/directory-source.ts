/**
 * A config source on a directory of YAML (design.md 4): read at start, then watched with fs.watch
 * (recursive where the platform has it), falling back to polling; changes are debounced (100 ms by
 * default) and the file set is read again (a file whose stat has not changed is not, see ReadCache)
 * and handed to the Store, which re-validates only the files whose text changed.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ConfigSource, SourceSink } from '../../../core/config/index.ts';
import { readConfigDir, type DirectoryRead, type ReadCache } from './read-config-dir.ts';

export interface DirectorySourceOptions {
  /** Source id in the Store (default `dir:<path>`). */
  id?: string;
  /** Quiet time after the last change before re-reading (default 100 ms). */
  debounceMs?: number;
  /** Interval of the polling fallback when fs.watch is unavailable or fails (default 1000 ms). */
  pollMs?: number;
  /** Watch for changes (default true); false reads once. */
  watch?: boolean;
  /** Use polling even where fs.watch works (tests, network file systems). */
  forcePolling?: boolean;
  /** Where errors of the watcher go (default: stderr). */
  log?: (line: string) => void;
}

/** Whether two reads hold the same files: unchanged files keep their very string, so this is cheap. */
function sameRead(a: DirectoryRead | undefined, b: DirectoryRead): boolean {
  if (!a || a.files.length !== b.files.length || JSON.stringify(a.unreadable) !== JSON.stringify(b.unreadable)) return false;
  return a.files.every((f, i) => f.path === b.files[i]!.path && f.text === b.files[i]!.text);
}

export class DirectorySource implements ConfigSource {
  readonly id: string;
  readonly #opts: Required<Omit<DirectorySourceOptions, 'id'>>;
  #sink: SourceSink | undefined;
  #watcher: FSWatcher | undefined;
  #poll: ReturnType<typeof setInterval> | undefined;
  #debounce: ReturnType<typeof setTimeout> | undefined;
  #scanning: Promise<void> | undefined;
  #again = false;
  #last: DirectoryRead | undefined;
  readonly #cache: ReadCache = new Map();
  #stopped = false;

  constructor(readonly dir: string, opts: DirectorySourceOptions = {}) {
    this.id = opts.id ?? `dir:${dir}`;
    this.#opts = {
      debounceMs: opts.debounceMs ?? 100,
      pollMs: opts.pollMs ?? 1000,
      watch: opts.watch ?? true,
      forcePolling: opts.forcePolling ?? false,
      log: opts.log ?? ((line) => process.stderr.write(`${line}\n`)),
    };
  }

  /** Reads the directory and hands it to the sink; resolves once the first read is delivered. */
  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    this.#stopped = false;
    await this.rescan();
    if (this.#opts.watch) this.#watch();
  }

  stop(): void {
    this.#stopped = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#poll = this.#debounce = undefined;
  }

  /** Reads everything again now; concurrent calls coalesce into one more read. */
  async rescan(): Promise<void> {
    if (this.#scanning) {
      this.#again = true;
      return this.#scanning;
    }
    this.#scanning = (async () => {
      do {
        this.#again = false;
        const read = await readConfigDir(this.dir, this.#cache);
        if (!this.#stopped && !sameRead(this.#last, read)) {
          this.#last = read;
          this.#sink?.replaceFiles(read.files, read.unreadable);
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  #changed = (): void => {
    if (this.#stopped) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      // Node 20's recursive watch on Linux follows inodes: a file replaced by a rename (how editors
      // and `kubectl`-style tools save) is seen once, then never again. Watching afresh after each
      // change picks up the new inodes.
      if (this.#watcher) this.#rewatch();
      this.rescan().catch((err) => this.#opts.log(`config: rescan of ${this.dir} failed: ${(err as Error).message}`));
    }, this.#opts.debounceMs);
  };

  #watch(): void {
    if (!this.#opts.forcePolling) {
      try {
        this.#watcher = watch(this.dir, { recursive: true, persistent: false }, this.#changed);
        this.#watcher.on('error', (err) => {
          this.#opts.log(`config: watching ${this.dir} failed (${err.message}); polling every ${this.#opts.pollMs} ms`);
          this.#watcher?.close();
          this.#watcher = undefined;
          this.#startPolling();
        });
        return;
      } catch {
        // No recursive watch here (or the directory is missing): poll instead.
      }
    }
    this.#startPolling();
  }

  #rewatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (!this.#stopped) this.#watch();
  }

  #startPolling(): void {
    if (this.#poll || this.#stopped) return;
    // rescan() compares the whole read with the last one, so a poll that finds nothing new is quiet.
    this.#poll = setInterval(() => {
      stat(this.dir).then(this.#changed, this.#changed);
    }, this.#opts.pollMs);
    this.#poll.unref?.();
  }
}
