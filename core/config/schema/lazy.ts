/**
 * A schema built the first time it is asked for. A zod schema object costs about 1 KB of heap, and
 * the kinds Weft reads hold ~2,900 of them (3.3 MB, ~10 MB of RSS with the compile memory they cost):
 * a kind's own schemas are built when a resource of that kind is first validated, so a process never
 * pays for the kinds its config does not use (docs/benchmarks.md, "weft up memory").
 */
export function lazy<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}
