/**
 * Trusted native plugins (benchmarks and development only): a `.mjs` module made by
 * `buildPlugin({ backend: 'native' })` (build/native.ts) runs as plain JavaScript in the proxy's
 * own realm, with no fuel, no memory cap and the whole process within reach. So the loader takes
 * one only when the process was started with WEFT_PLUGINS_TRUSTED_NATIVE=1, and refuses it
 * otherwise. It serves as the no-sandbox baseline a component's cost is measured against.
 */
import type { PluginKind } from '../../../../core/plugin/contract.ts';
import type { CompiledPlugin } from '../../../../core/plugin/compiled-plugin.ts';
import { checkSha256, fetchComponentBytes, type FetchOptions } from './fetch-component.ts';

export const TRUSTED_NATIVE_ENV = 'WEFT_PLUGINS_TRUSTED_NATIVE';

/** instances made in this process: numbers each module URL, which the module cache keys on */
let instances = 0;

/** a native plugin's URL: a file (or built-in) ending in .mjs */
export function isNativePluginUrl(url: string): boolean {
  return url.startsWith('file://') && url.endsWith('.mjs');
}

interface NativeModule {
  __weftBind?: (imports: Record<string, unknown>) => void;
  [k: string]: unknown;
}

function kindOf(m: NativeModule): PluginKind | undefined {
  if (m.filter) return 'http-filter';
  if (m.connectionPolicy) return 'l4-policy';
  if (m.picker) return 'endpoint-picker';
  return undefined;
}

export async function loadNativePlugin(url: string, sha256: string | undefined, o: FetchOptions, env: Record<string, string | undefined> = process.env): Promise<CompiledPlugin> {
  if (env[TRUSTED_NATIVE_ENV] !== '1') {
    throw new Error(
      `${url} is a native plugin (.mjs): it would run unsandboxed (no fuel, no memory cap, the whole process within reach), so it is refused; such plugins are for benchmarks and development and load only when the proxy runs with ${TRUSTED_NATIVE_ENV}=1`,
    );
  }
  const bytes = await fetchComponentBytes(url, o);
  const actual = checkSha256(bytes, sha256, url);
  // imported from the very bytes hashed; each instance imports its own copy of the module (a
  // comment makes the URL unique), so instances and versions keep their state apart as components do
  const source = Buffer.from(bytes).toString('utf8');
  const importFresh = () => import(/* @vite-ignore */ `data:text/javascript;base64,${Buffer.from(`${source}\n// instance ${++instances}\n`).toString('base64')}`) as Promise<NativeModule>;
  const probe = await importFresh();
  if (typeof probe.__weftBind !== 'function') throw new Error(`${url} is not a native plugin build (no __weftBind export): build it with buildPlugin({ backend: 'native' })`);
  let first: NativeModule | undefined = probe;
  return {
    sha256: actual,
    kind: kindOf(probe),
    instantiate(_getCoreModule, imports) {
      const bind = (m: NativeModule) => {
        m.__weftBind!(imports);
        return m;
      };
      // the probe serves as the first instance
      if (first) {
        const m = first;
        first = undefined;
        return bind(m);
      }
      return importFresh().then(bind);
    },
    getCoreModule(name) {
      throw new Error(`a native plugin has no core module ${name}`);
    },
    fuelExport: '',
    memoryMaxBytes: 0,
  };
}
