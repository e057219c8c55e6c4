/**
 * Deno entry of the in-process edge measurements (edge-micro.ts):
 *   deno run --v8-flags=--expose-gc --allow-read edge-micro-deno.ts <prepared dir> <plugin> time|memory <calls> <batch> <extra>
 * The prepared plugins are loaded as the edge host's Deno entry loads them (hosts/edge/prepared-dir.ts:
 * core modules compiled at start), then timed; prints one JSON line.
 */
import { loadPreparedDir } from '../../../hosts/edge/prepared-dir.ts';
import { memorySteps, timeEdgeCalls } from './edge-micro.ts';
import type { Builtin } from './specs.ts';

declare const Deno: {
  args: string[];
  version: { deno: string };
  readFile(p: string): Promise<Uint8Array>;
  readTextFile(p: string): Promise<string>;
  memoryUsage(): { rss: number };
};

const [dir, plugin, mode, calls, batch, extra] = Deno.args as [string, Builtin, string, string, string, string];
const now = () => performance.now();
const t0 = now();
const plugins = await loadPreparedDir(dir, { readText: (p) => Deno.readTextFile(p), readBytes: (p) => Deno.readFile(p), importFile: (p) => import(new URL(`file://${p}`).href) });
const compileMs = now() - t0;
const gc = () => (globalThis as { gc?: () => void }).gc?.();
let out: unknown;
if (mode === 'time') {
  out = { runtime: `deno ${Deno.version.deno}`, compileMs, ...(await timeEdgeCalls(plugins, { plugin, calls: Number(calls), batch: Number(batch), now, perCall: true })) };
} else {
  const m = memorySteps(plugins, plugin);
  await m.base();
  gc();
  const before = Deno.memoryUsage().rss;
  const instances = await m.grow(Number(extra));
  gc();
  out = { instMb: (Deno.memoryUsage().rss - before) / instances / (1024 * 1024), gc: typeof (globalThis as { gc?: unknown }).gc === 'function' };
}
console.log(JSON.stringify(out));
