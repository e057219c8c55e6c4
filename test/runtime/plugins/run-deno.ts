/**
 * Deno entry of the plugin parity test: `deno run --allow-read=<dir> run-deno.ts <dir>` with a
 * directory prepare.ts wrote. Deno compiles the metered core modules from their bytes at run time
 * (it may), imports each glue, runs the driver and prints one JSON line (ParityRun).
 */
import type { GlueInstantiate } from '../../../core/plugin/compiled-plugin.ts';
import { PLUGIN_TESTS } from './cases.ts';
import { runAll, type ParityRun, type PreparedPlugin } from './driver.ts';

declare const Deno: { args: string[]; version: { deno: string }; readFile(p: string): Promise<Uint8Array<ArrayBuffer>>; readTextFile(p: string): Promise<string> };

const dir = Deno.args[0];
if (!dir) throw new Error('usage: run-deno.ts <prepared dir>');
const { plugins } = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`)) as { plugins: PreparedPlugin[] };
const results = await runAll(
  plugins,
  async (p) => {
    const glue = (await import(new URL(`file://${dir}/${p.name}/glue.mjs`).href)) as { instantiate: GlueInstantiate };
    const modules = new Map<string, WebAssembly.Module>();
    for (const n of p.modules) modules.set(n, await WebAssembly.compile(await Deno.readFile(`${dir}/${p.name}/${n}`)));
    return { instantiate: glue.instantiate, modules };
  },
  (name) => PLUGIN_TESTS[name]!,
);
const run: ParityRun = { runtime: 'deno', version: Deno.version.deno, results };
console.log(JSON.stringify(run));
