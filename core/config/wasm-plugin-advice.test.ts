/** WasmPlugin validation advice: what Weft reads differently from upstream, with file, resource and field. */
import { describe, expect, it } from 'vitest';
import { analyzeFiles } from './analyze.ts';
import { formatIssue } from './issues.ts';

const plugin = (spec: string, annotations = '') => `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: p
  namespace: demo
${annotations ? `  annotations: { ${annotations} }\n` : ''}spec:
  url: file:///plugins/p.wasm
${spec}`;

const warnings = (text: string) => {
  const r = analyzeFiles([{ path: 'p.yaml', text }]);
  expect(r.errors.map(formatIssue)).toEqual([]);
  return r.warnings.map(formatIssue);
};

describe('WasmPlugin advice', () => {
  it('accepts NETWORK (an l4-policy) without a warning', () => {
    expect(warnings(plugin('  type: NETWORK\n  selector: { matchLabels: { app: web } }\n'))).toEqual([]);
  });

  it('warns that FAIL_RELOAD is treated as FAIL_CLOSE', () => {
    expect(warnings(plugin('  failStrategy: FAIL_RELOAD\n'))).toEqual([expect.stringMatching(/^p\.yaml:\d+: WasmPlugin demo\/p: spec\.failStrategy: FAIL_RELOAD is treated as FAIL_CLOSE/)]);
  });

  it('warns about match modes other than UNDEFINED and SERVER', () => {
    const w = warnings(plugin('  match:\n  - mode: SERVER\n  - mode: CLIENT\n    ports: [{ number: 80 }]\n'));
    expect(w).toEqual([expect.stringMatching(/WasmPlugin demo\/p: spec\.match\[1\]\.mode: CLIENT is not supported by Weft/)]);
  });

  it('warns that vmConfig.env is not supported (plugins have no environment)', () => {
    expect(warnings(plugin('  vmConfig:\n    env: [{ name: A, value: b }]\n'))).toEqual([expect.stringMatching(/WasmPlugin demo\/p: spec\.vmConfig\.env: is not supported by Weft and is ignored: plugins run without an environment/)]);
  });

  it('warns that a NETWORK plugin with a Gateway target selects no proxy', () => {
    const w = warnings(plugin('  type: NETWORK\n  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]\n'));
    expect(w).toContainEqual(expect.stringMatching(/WasmPlugin demo\/p: spec\.targetRefs\[0\]: a NETWORK plugin is an L4 policy that runs in node proxies: a Gateway target selects no proxy/));
  });

  it('reads the endpoint-picker annotation and warns about other values', () => {
    expect(warnings(plugin('', "weft.dev/plugin-kind: endpoint-picker"))).toEqual([]);
    expect(warnings(plugin('', "weft.dev/plugin-kind: l4-policy"))).toEqual([expect.stringMatching(/WasmPlugin demo\/p: metadata\.annotations.*only "endpoint-picker" is read here/)]);
  });
});
