/**
 * One ES module from a plugin's TypeScript: esbuild bundles plugin.ts with the SDK (compiled into
 * the plugin) and leaves `weft:plugin/*` imports to the componentizer, which binds them to the WIT.
 */
import type { Plugin } from 'esbuild';
import { join } from 'node:path';
import { pluginSdkDir } from './paths.ts';

/** resolves `@weft/plugin-sdk` and `@weft/plugin-sdk/<file>` to the SDK shipped with weft */
export function sdkAlias(sdkDir = pluginSdkDir()): Plugin {
  return {
    name: 'weft-plugin-sdk',
    setup(b) {
      b.onResolve({ filter: /^@weft\/plugin-sdk(\/.*)?$/ }, (args) => {
        const sub = args.path.slice('@weft/plugin-sdk'.length);
        const file = sub ? join(sdkDir, sub.endsWith('.ts') ? sub.slice(1) : `${sub.slice(1)}.ts`) : join(sdkDir, 'index.ts');
        return { path: file };
      });
    },
  };
}

export interface BundleOptions {
  entry: string;
  /** node: for plugin.test.ts, run by weft itself; neutral: for the guest (no Node, no browser) */
  platform?: 'neutral' | 'node';
}

export async function bundlePlugin({ entry, platform = 'neutral' }: BundleOptions): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform,
    target: 'es2022',
    external: ['weft:plugin/*'],
    plugins: [sdkAlias()],
    logLevel: 'silent',
    legalComments: 'none',
    // the guest is a snapshot: no source map file to find at run time
    sourcemap: platform === 'node' ? 'inline' : false,
  });
  return result.outputFiles[0]!.text;
}
