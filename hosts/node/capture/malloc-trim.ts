/**
 * Periodic malloc_trim(0) for long-running roles (`weft node`, `weft up`). glibc returns freed
 * memory to the kernel only from the top of its main heap, and only past a threshold; what startup
 * freed (V8's compiler zones, the config parse, certificate work) and what bursts of traffic freed
 * stays resident otherwise. Measured on an idle `weft up`: RSS 76.4 -> 73.3 MB, and 83.2 -> 81.1 MB
 * at 1,000 req/s (docs/benchmarks.md). A trim walks the heap (about a millisecond here), so it runs
 * a few seconds after start and then every `everyMs`, on unref'd timers. Without the addon or glibc
 * it does nothing.
 */
export interface MallocTrimOptions {
  firstMs?: number;
  everyMs?: number;
  /** What trims (default: the addon's malloc_trim, loaded on first use). */
  trim?: () => boolean;
}

export function scheduleMallocTrim(o: MallocTrimOptions = {}): () => void {
  let trim = o.trim;
  let stopped = false;
  const run = (): void => {
    if (stopped) return;
    if (trim) trim();
    else
      void import('./original-dst.ts').then((m) => {
        trim = m.trimMalloc;
        if (!stopped) trim();
      });
  };
  const first = setTimeout(run, o.firstMs ?? 3000);
  const every = setInterval(run, o.everyMs ?? 10_000);
  first.unref();
  every.unref();
  return () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(every);
  };
}
