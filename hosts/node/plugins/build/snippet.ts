/** The WasmPlugin resource `weft plugin build` prints, ready to paste (kinds as core/xds/plugins-select.ts reads them). */
import type { PluginKindName } from './manifest.ts';

export function wasmPluginSnippet(name: string, kind: PluginKindName, file: string, sha256: string): string {
  const lines = ['apiVersion: extensions.istio.io/v1alpha1', 'kind: WasmPlugin', 'metadata:', `  name: ${name}`, '  namespace: default'];
  if (kind === 'endpoint-picker') lines.push('  annotations:', '    weft.dev/plugin-kind: endpoint-picker');
  lines.push('spec:', `  url: file://${file}`, `  sha256: ${sha256}`);
  if (kind === 'l4-policy') lines.push('  type: NETWORK');
  else lines.push('  phase: AUTHZ');
  lines.push('  failStrategy: FAIL_CLOSE', '  pluginConfig: {}');
  return lines.join('\n');
}
