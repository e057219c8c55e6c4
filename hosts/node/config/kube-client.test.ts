/** Which cluster `weft control --kubernetes` reads: a kubeconfig file, or in a pod its service account. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig } from './kube-client.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'weft-kubeconfig-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('loadKubeConfig', () => {
  it('reads --kubeconfig first, even in a pod', () => {
    const file = join(tmp(), 'config');
    writeFileSync(file, 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://k.example:6443"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n');
    const kc = loadKubeConfig({ kubeconfig: file, env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' } });
    expect(kc.getCurrentCluster()?.server).toBe('https://k.example:6443');
  });

  it("uses the pod's service account when KUBERNETES_SERVICE_HOST is set", async () => {
    const root = tmp();
    const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), 'sa-token');
    writeFileSync(join(sa, 'ca.crt'), '');
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    // The library reads the service address from process.env itself.
    process.env.KUBERNETES_SERVICE_HOST = '10.96.0.1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    try {
      const kc = loadKubeConfig({ env: process.env, serviceAccountPrefix: root });
      expect(kc.getCurrentCluster()?.server).toBe('https://10.96.0.1:443');
      const opts: { headers?: Record<string, string> } = {};
      await kc.applyToHTTPSOptions(opts as never);
      expect(opts.headers?.Authorization).toBe('Bearer sa-token');
    } finally {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('says what to do when no cluster is configured', () => {
    const home = tmp();
    expect(() => loadKubeConfig({ env: { HOME: home } })).toThrow(/no Kubernetes cluster is configured: pass --kubeconfig/);
  });
});
