/**
 * Gives memory back to the system from long-running roles (`weft node`, `weft up`), on unref'd timers.
 *
 * - malloc_trim(0), a few seconds after start and then every `everyMs`: glibc returns freed memory
 *   to the kernel only from the top of its main heap, and only past a threshold; what startup freed
 *   (V8's compiler zones, the config parse, certificate work) and what bursts of traffic freed stays
 *   resident otherwise. Measured on an idle `weft up`: RSS 76.4 -> 73.3 MB, and 83.2 -> 81.1 MB at
 *   1,000 req/s (docs/benchmarks.md). A trim walks the heap (about a millisecond here).
 * - Paging out the read-only file mappings (native/original-dst/src/page_out.c says what and why):
 *   once with the first trim, when start-up's code has run, and again only after the process was
 *   busy and has gone quiet (its CPU over the last interval under `quietShare` of it), so the code a
 *   burst of traffic touched once (optimising compiles, first-use paths) goes back, while a process
 *   under steady load keeps its working set and never faults it in again and again.
 *
 * Without the addon or glibc each step does nothing.
 */
export interface MemoryReleaseOptions {
  firstMs?: number;
  everyMs?: number;
  /** page out read-only file mappings (default true) */
  pageOut?: boolean;
  /** CPU share of an interval under which the process counts as quiet (default 0.02) */
  quietShare?: number;
  /** CPU time since the last page-out, in ms, after which a quiet process pages out again (default 500) */
  busyCpuMs?: number;
  /** what trims and what pages out (default: the addon's, loaded on first use) */
  release?: { trim(): boolean; pageOut(): number };
  /** CPU used by the process so far, in microseconds (default: process.cpuUsage()) */
  cpuMicros?: () => number;
}

export function scheduleMemoryRelease(o: MemoryReleaseOptions = {}): () => void {
  const everyMs = o.everyMs ?? 10_000;
  const pageOutOn = o.pageOut ?? true;
  const quietMicros = (o.quietShare ?? 0.02) * everyMs * 1000;
  const busyMicros = (o.busyCpuMs ?? 500) * 1000;
  const cpuMicros =
    o.cpuMicros ??
    (() => {
      const u = process.cpuUsage();
      return u.user + u.system;
    });
  let release = o.release;
  let stopped = false;
  let lastTick = 0;
  let lastPageOut = 0;

  const step = (first: boolean): void => {
    if (stopped || !release) return;
    release.trim();
    const now = cpuMicros();
    const quiet = now - lastTick < quietMicros;
    if (pageOutOn && (first || (quiet && now - lastPageOut >= busyMicros))) {
      release.pageOut();
      lastPageOut = cpuMicros();
    }
    lastTick = cpuMicros();
  };
  const run = (first: boolean): void => {
    if (stopped) return;
    if (release) return step(first);
    void import('./original-dst.ts').then((m) => {
      release = { trim: m.trimMalloc, pageOut: m.pageOutFileMappings };
      step(first);
    });
  };
  const first = setTimeout(() => run(true), o.firstMs ?? 3000);
  const every = setInterval(() => run(false), everyMs);
  first.unref();
  every.unref();
  return () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(every);
  };
}
