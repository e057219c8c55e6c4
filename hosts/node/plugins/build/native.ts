/**
 * The `native` build of a plugin (benchmarks and development only, never a deployment format): the
 * plugin's TypeScript as one plain ES module, no WebAssembly, no sandbox. It is the baseline that
 * shows what the component boundary costs. `weft:plugin/*` imports (any version) resolve to a shim whose
 * functions forward to an import table, which the host fills through the module's exported
 * `__weftBind(imports)` with the same import object a component gets (core/plugin/host-imports.ts).
 * The Node loader runs such a module only with WEFT_PLUGINS_TRUSTED_NATIVE=1
 * (hosts/node/plugins/runtime/native-plugin.ts).
 */
import type { Plugin } from 'esbuild';
import { createHostImports, createHttpImports, SharedKv } from '../../../../core/plugin/host-imports.ts';
import { sdkAlias } from './bundle.ts';

const SHIM_NAMESPACE = 'weft-native';

/**
 * The shim's source: one forwarding function per host function, with the host function's own
 * arity (no rest arrays on the call path). The names come from the host's import objects, so the
 * shim cannot drift from what a component is given.
 */
export function nativeShimSource(): string {
  const clock = { monotonic: () => 0 };
  const host = createHostImports({ plugin: '', config: '{}', clock, kv: new SharedKv(clock) });
  const http = createHttpImports({ x: undefined });
  const lines = [
    'let host;',
    'let http;',
    "export function __weftBind(imports) { host = imports['weft:plugin/host']; http = imports['weft:plugin/http']; }",
  ];
  const forward = (table: string, name: string, arity: number) => {
    const args = Array.from({ length: arity }, (_, i) => `a${i}`);
    // u64 parameters: a component's glue hands the host a BigInt; plain JS guests pass numbers
    if (name === 'counterAdd' || name === 'kvIncrement') args[1] = `(typeof a1 === 'bigint' ? a1 : BigInt(a1))`;
    lines.push(`export function ${name}(${Array.from({ length: arity }, (_, i) => `a${i}`).join(', ')}) { return ${table}.${name}(${args.join(', ')}); }`);
  };
  for (const [name, fn] of Object.entries(host)) forward('host', name, (fn as (...a: unknown[]) => unknown).length);
  for (const [name, fn] of Object.entries(http)) forward('http', name, (fn as (...a: unknown[]) => unknown).length);
  return `${lines.join('\n')}\n`;
}

/** resolves every `weft:plugin/*` import (and the entry's `weft-native:shim`) to the one shim module */
export function nativeImports(): Plugin {
  return {
    name: 'weft-native-imports',
    setup(b) {
      b.onResolve({ filter: /^(weft:plugin\/|weft-native:shim$)/ }, () => ({ path: 'shim', namespace: SHIM_NAMESPACE }));
      b.onLoad({ filter: /.*/, namespace: SHIM_NAMESPACE }, () => ({ contents: nativeShimSource(), loader: 'js' }));
    },
  };
}

/** plugin.ts -> one self-contained ES module exporting the world's interface and `__weftBind` */
export async function bundleNative(entry: string): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    stdin: {
      contents: `export * from ${JSON.stringify(entry)};\nexport { __weftBind } from 'weft-native:shim';\n`,
      resolveDir: process.cwd(),
      sourcefile: 'weft-native-entry.js',
      loader: 'js',
    },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    plugins: [nativeImports(), sdkAlias()],
    logLevel: 'silent',
    legalComments: 'none',
  });
  return result.outputFiles[0]!.text;
}
