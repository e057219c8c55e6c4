/**
 * `weft plugin new|build|test` (design.md 1 and 6): the plugin author's toolchain. The toolchain
 * (esbuild, componentize-qjs or componentize-js, jco) loads only inside these actions.
 */
import type { Command } from 'commander';
import { binaryRuntime, NO_TOOLCHAIN } from '../binary/runtime.ts';

const KINDS = ['http-filter', 'l4-policy', 'endpoint-picker'];
const BACKENDS = ['quickjs', 'starlingmonkey'];
const print = (line: string): void => void process.stdout.write(`${line}\n`);

function fail(e: unknown): void {
  process.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
  process.exitCode = 1;
}

function checkBackend(backend: string): boolean {
  if (BACKENDS.includes(backend)) return true;
  fail(new Error(`--backend must be one of ${BACKENDS.join(', ')}`));
  return false;
}

export function register(program: Command): void {
  const plugin = program.command('plugin').description('write, build and test WebAssembly plugins in TypeScript');

  plugin
    .command('new')
    .description('scaffold a plugin directory NAME/ (plugin.ts, plugin.test.ts, weft-plugin.json, tsconfig.json)')
    .argument('<name>', 'plugin name (a DNS label)')
    .requiredOption('--kind <kind>', KINDS.join(' | '))
    .option('--dir <parent>', 'where to create NAME/', '.')
    .action(async (name: string, opts: { kind: string; dir: string }) => {
      if (binaryRuntime()) return fail(new Error(NO_TOOLCHAIN));
      try {
        const { scaffoldPlugin } = await import('../plugins/build/scaffold.ts');
        const { dir, files } = await scaffoldPlugin(name, opts.kind as 'http-filter', opts.dir);
        print(`created ${dir}/ (${opts.kind}): ${files.join(', ')}`);
        print('next:');
        print(`  edit   ${dir}/plugin.ts`);
        print(`  build  weft plugin build ${dir}`);
        print(`  test   weft plugin test ${dir}`);
      } catch (e) {
        fail(e);
      }
    });

  plugin
    .command('build')
    .description('bundle DIR/plugin.ts and compile it to a WebAssembly component (DIR/dist/NAME.wasm)')
    .argument('<dir>', 'the plugin directory (with weft-plugin.json)')
    .option('--backend <engine>', BACKENDS.join(' | '), 'quickjs')
    .option('-o, --output <file>', 'where to write the component')
    .action(async (dir: string, opts: { backend: string; output?: string }) => {
      if (!checkBackend(opts.backend)) return;
      if (binaryRuntime()) return fail(new Error(NO_TOOLCHAIN));
      try {
        const { buildPlugin, defaultCacheFile } = await import('../plugins/build/build-plugin.ts');
        const { wasmPluginSnippet } = await import('../plugins/build/snippet.ts');
        const { formatSize } = await import('../plugins/build/format.ts');
        const backend = opts.backend as 'quickjs';
        // always builds; the cache it leaves lets `weft plugin test` reuse this component
        const cacheFile = opts.output ? undefined : defaultCacheFile(dir, backend);
        const r = await buildPlugin({ dir, backend, outFile: opts.output, cacheFile, force: true, onProgress: print });
        print(`built ${r.outFile}`);
        print(`  size    ${formatSize(r.size)} (${r.size} bytes), ${r.ms} ms`);
        print(`  sha256  ${r.sha256}`);
        print('');
        print('WasmPlugin:');
        print(wasmPluginSnippet(r.name, r.world, r.outFile, r.sha256));
      } catch (e) {
        fail(e);
      }
    });

  plugin
    .command('test')
    .description("build DIR's component (cached) and run DIR/plugin.test.ts's cases against it; exits non-zero on failure")
    .argument('<dir>', 'the plugin directory')
    .option('--backend <engine>', BACKENDS.join(' | '), 'quickjs')
    .action(async (dir: string, opts: { backend: string }) => {
      if (!checkBackend(opts.backend)) return;
      if (binaryRuntime()) return fail(new Error(NO_TOOLCHAIN));
      try {
        const { testPlugin } = await import('../plugins/build/test-plugin.ts');
        const { failed } = await testPlugin({ dir, backend: opts.backend as 'quickjs', out: print });
        if (failed > 0) process.exitCode = 1;
      } catch (e) {
        fail(e);
      }
      // one-shot: the plugin runtime's background work (the transpiler worker's idle timer, 30 s)
      // must not hold the command open; stdout to a pipe or file is written synchronously on Linux
      process.exit();
    });
}
