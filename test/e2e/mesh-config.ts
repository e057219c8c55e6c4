/**
 * The config directory `weft control` serves in the node-mTLS e2e test: namespace `default`
 * (ambient) with pods a and b (clients, node1) and c (the echo backend behind Service `echo`,
 * node2); namespace `legacy` (not in the mesh) with pod d, a plaintext client. Pods carry the
 * harness's IPs and nodes, as a CNI and the kubelet would have written them. Policy files are
 * written and removed by the test while everything runs.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PodName, Topology } from './topology.ts';

export const ECHO_VIP = '10.96.0.20';
export const ECHO_PORT = 8080;
export const TRUST_DOMAIN = 'cluster.local';
export const principal = (ns: string, sa: string): string => `${TRUST_DOMAIN}/ns/${ns}/sa/${sa}`;
export const spiffe = (ns: string, sa: string): string => `spiffe://${principal(ns, sa)}`;

/** Pod -> namespace, service account, app label. */
export const PODS: Record<PodName, { ns: string; sa: string; app: string }> = {
  a: { ns: 'default', sa: 'client-a', app: 'client' },
  b: { ns: 'default', sa: 'client-b', app: 'client' },
  c: { ns: 'default', sa: 'echo', app: 'echo' },
  d: { ns: 'legacy', sa: 'plain', app: 'plain' },
};

export function namespaceYaml(ambient: boolean): string {
  const labels = ambient ? '\n  labels: {istio.io/dataplane-mode: ambient}' : '';
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default${labels}\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: legacy\n`;
}

function podsYaml(topo: Topology): string {
  return (Object.keys(PODS) as PodName[])
    .map((name) => {
      const p = PODS[name];
      const pod = topo.pods[name];
      return [
        `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: ${p.sa}, namespace: ${p.ns}}`,
        `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${p.ns}\n  labels: {app: ${p.app}}\nspec:\n  nodeName: ${pod.node.name}\n  serviceAccountName: ${p.sa}\n  containers:\n  - name: app\n    ports: [{name: http, containerPort: ${ECHO_PORT}}]\nstatus:\n  podIP: ${pod.ip}\n  conditions: [{type: Ready, status: "True"}]`,
      ].join('\n---\n');
    })
    .join('\n---\n');
}

const serviceYaml = `apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: default}\nspec:\n  clusterIP: ${ECHO_VIP}\n  selector: {app: echo}\n  ports: [{name: http, port: 80, targetPort: ${ECHO_PORT}}]\n`;

export async function writeMeshConfig(dir: string, topo: Topology): Promise<void> {
  await writeFile(join(dir, 'namespaces.yaml'), namespaceYaml(true));
  await writeFile(join(dir, 'pods.yaml'), podsYaml(topo));
  await writeFile(join(dir, 'services.yaml'), serviceYaml);
}

/** An L4 AuthorizationPolicy on the echo pod, from the given principals. */
export function echoPolicyYaml(name: string, action: 'ALLOW' | 'DENY', principals: string[]): string {
  return `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: default}\nspec:\n  selector:\n    matchLabels: {app: echo}\n  action: ${action}\n  rules:\n  - from:\n    - source: {principals: [${principals.map((p) => `"${p}"`).join(', ')}]}\n`;
}

export const strictYaml = `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: strict, namespace: default}\nspec:\n  mtls: {mode: STRICT}\n`;

/** Writes one policy file, returning how to remove it (the control plane watches the directory). */
export async function withFile(dir: string, name: string, yaml: string): Promise<() => Promise<void>> {
  const file = join(dir, name);
  await writeFile(file, yaml);
  return () => rm(file, { force: true });
}
