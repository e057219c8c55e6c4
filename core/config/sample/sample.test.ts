import { describe, expect, it } from 'vitest';
import { analyzeFiles } from '../analyze.ts';
import { formatIssue } from '../issues.ts';
import { SAMPLE_FILES } from './index.ts';

describe('embedded sample mesh', () => {
  const { snapshot, errors, warnings } = analyzeFiles(SAMPLE_FILES);

  it('has no errors (and no warnings)', () => {
    expect(errors.map(formatIssue)).toEqual([]);
    expect(warnings.map(formatIssue)).toEqual([]);
  });

  it('serves echo and hello from loopback workloads on node local', () => {
    expect(snapshot.services.map((s) => [s.key, s.endpoints.map((e) => `${e.address}:${Object.values(e.ports)[0]}`)])).toEqual([
      ['demo/echo.demo.svc.cluster.local', ['127.0.0.1:18080']],
      ['demo/hello.demo.svc.cluster.local', ['127.0.0.1:18081']],
    ]);
    for (const w of snapshot.workloads) {
      expect(w.node).toBe('local');
      expect(w.tunnelProtocol).toBe('HBONE');
      expect(w.identity).toBe(`spiffe://cluster.local/ns/demo/sa/${w.serviceAccount}`);
    }
  });

  it('declares both ingress styles, a policy and the rate-limit plugin', () => {
    const kinds = Object.fromEntries([...snapshot.resources].map(([k, list]) => [k, list.map((r) => `${r.apiVersion.split('/')[0]}:${r.metadata.name}`)]));
    expect(kinds.Gateway).toEqual(['networking.istio.io:ingress', 'gateway.networking.k8s.io:web']);
    expect(kinds.VirtualService).toEqual(['networking.istio.io:ingress']);
    expect(kinds.HTTPRoute).toEqual(['gateway.networking.k8s.io:web']);
    expect(kinds.AuthorizationPolicy).toHaveLength(1);
    expect(snapshot.resources.get('WasmPlugin')![0]!.spec).toMatchObject({ url: 'file:///builtin/rate-limit.wasm', phase: 'AUTHZ' });
  });
});
