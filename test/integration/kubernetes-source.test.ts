/**
 * `weft control --kubernetes` end to end: the built bundle as a child process, reading a fake API
 * server (test/support/fake-kube-apiserver.ts) through a kubeconfig file, observed through its
 * /debug/configz and /debug/status: the first lists, changes, resume after a dropped watch (with the
 * last resourceVersion, nothing missed), re-list after 410 Gone, an invalid object named by its
 * Kubernetes name and field with its last good version kept, a CRD that is not installed, and
 * Gateway API status written back to the route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApiServer, WEFT_CRDS } from '../support/fake-kube-apiserver.ts';
import { eventually, startControl, weftSync, type ControlProcess } from '../support/weft-process.ts';

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'istio.io/dataplane-mode': 'ambient' } } });
const svc = (name: string, port = 80) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'demo' }, spec: { clusterIP: '10.96.0.10', selector: { app: name }, ports: [{ name: 'http', port, targetPort: 8080 }] } });
const pod = (name: string, ip: string) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'demo', labels: { app: 'web' } },
  spec: { nodeName: 'node-a', containers: [{ name: 'app', image: 'echo' }] }, status: { podIP: ip, phase: 'Running' },
});
const route = (name: string, weight = 1) => ({
  apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: 'demo' },
  spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web' }], rules: [{ backendRefs: [{ name: 'web', port: 80, weight }] }] },
});

let fake: FakeKubeApiServer;
let cp: ControlProcess;
let dir: string;

async function get(path: string): Promise<any> {
  const res = await fetch(`${cp.http}${path}`, { signal: AbortSignal.timeout(5000) });
  return res.json();
}
const names = async (kind: string): Promise<string[]> =>
  (((await get('/debug/configz')).resources[kind] ?? []) as { metadata: { namespace?: string; name: string } }[]).map((r) => `${r.metadata.namespace ?? ''}/${r.metadata.name}`).sort();
const servicePort = async (name: string) => ((await get('/debug/configz')).services as { name: string; ports: { port: number }[] }[]).find((s) => s.name === name)?.ports[0]?.port;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-k8s-it-'));
  fake = new FakeKubeApiServer({ bookmarkMs: 200 });
  await fake.listen();
  // Every CRD Weft reads but InferenceObjective: that one is "not installed".
  fake.installCrds(WEFT_CRDS.filter((d) => d.kind !== 'InferenceObjective'));
  fake.apply(ns('demo'));
  fake.apply(ns('istio-system'));
  fake.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'trustDomain: example.org\n' } });
  fake.apply(svc('web'));
  fake.apply(pod('web-1', '10.1.0.1'));
  fake.apply(route('r1', 5));
  writeFileSync(join(dir, 'kubeconfig'), fake.kubeconfig());
  cp = await startControl(['--kubernetes', '--kubeconfig', join(dir, 'kubeconfig'), '--state', join(dir, 'state')]);
}, 40_000);

afterAll(async () => {
  await cp?.stop();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('weft control --kubernetes', () => {
  it('refuses --config with --kubernetes', () => {
    const r = weftSync(['control', '--config', dir, '--kubernetes']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--config and --kubernetes name two config sources/);
  });

  it('serves the initial lists as soon as it is up', async () => {
    expect(cp.stdout()).toMatch(/serving config from Kubernetes \(http:\/\/127\.0\.0\.1:\d+\)/);
    const configz = await get('/debug/configz');
    expect(configz.mesh.trustDomain).toBe('example.org');
    expect(await names('Service')).toEqual(['demo/web']);
    expect(await names('Pod')).toEqual(['demo/web-1']);
    expect(await names('HTTPRoute')).toEqual(['demo/r1']);
    expect((await get('/debug/status')).errors).toEqual([]);
  });

  it('writes Gateway API status back to the route (status subresource)', async () => {
    const parents = await eventually(() => fake.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'demo', 'r1')?.status?.parents as { controllerName: string; conditions: { type: string; status: string }[] }[] | undefined, 5000, 'route status');
    expect(parents).toEqual([expect.objectContaining({ parentRef: expect.objectContaining({ kind: 'Service', name: 'web' }), conditions: expect.arrayContaining([expect.objectContaining({ type: 'Accepted', status: 'True' })]) })]);
    expect(fake.requests({ method: 'PATCH', path: '/apis/gateway.networking.k8s.io/v1/namespaces/demo/httproutes/r1/status' }).length).toBeGreaterThan(0);
  });

  it('skips a kind whose CRD is not installed with one log line', async () => {
    const lines = cp.stderr().split('\n').filter((l) => /InferenceObjective/.test(l));
    expect(lines).toEqual([expect.stringMatching(/InferenceObjective\.inference\.networking\.x-k8s\.io is not served by the cluster .*skipped/)]);
    expect(fake.requests({ path: /inferenceobjectives/ })).toEqual([]);
  });

  it('follows added, modified and deleted objects', async () => {
    fake.apply(route('r2'));
    fake.apply(svc('web', 8080));
    fake.apply(pod('web-2', '10.1.0.2'));
    await eventually(async () => (await names('HTTPRoute')).length === 2 && (await servicePort('web')) === 8080 && (await names('Pod')).length === 2, 5000, 'additions');
    fake.remove('gateway.networking.k8s.io/v1', 'HTTPRoute', 'demo', 'r2');
    fake.remove('v1', 'Pod', 'demo', 'web-2');
    fake.apply(svc('web', 80));
    await eventually(async () => (await names('HTTPRoute')).join() === 'demo/r1' && (await names('Pod')).join() === 'demo/web-1' && (await servicePort('web')) === 80, 5000, 'deletions');
  });

  it('resumes dropped watches from the last resourceVersion and misses nothing made meanwhile', async () => {
    await eventually(() => fake.watchCount() === 23, 5000, 'every watch open');
    const mark = fake.log.length;
    const rvAtDrop = fake.resourceVersion;
    fake.offline = true;
    fake.dropWatches();
    fake.apply(route('r3'));
    fake.apply(pod('web-3', '10.1.0.3'));
    fake.remove('v1', 'Pod', 'demo', 'web-1');
    fake.offline = false;
    await eventually(async () => (await names('HTTPRoute')).join() === 'demo/r1,demo/r3' && (await names('Pod')).join() === 'demo/web-3', 10_000, 'changes made while disconnected');
    const after = fake.log.slice(mark).filter((r) => r.path === '/api/v1/pods');
    const watches = after.filter((r) => r.query.watch === 'true' && r.status === 200);
    expect(watches.length).toBeGreaterThan(0);
    // Resumed, not started over: a resourceVersion from before the drop, and no LIST.
    expect(Number(watches[0]!.query.resourceVersion)).toBeGreaterThan(0);
    expect(Number(watches[0]!.query.resourceVersion)).toBeLessThanOrEqual(rvAtDrop);
    expect(after.filter((r) => r.query.watch !== 'true')).toEqual([]);
  });

  it('lists again after 410 Gone and converges', async () => {
    await eventually(() => fake.watchCount() === 23, 5000, 'every watch open');
    const mark = fake.log.length;
    fake.offline = true;
    fake.dropWatches();
    fake.remove('gateway.networking.k8s.io/v1', 'HTTPRoute', 'demo', 'r3');
    fake.apply(route('r4'));
    fake.apply(pod('web-4', '10.1.0.4'));
    fake.compactHistory();
    fake.offline = false;
    await eventually(async () => (await names('HTTPRoute')).join() === 'demo/r1,demo/r4' && (await names('Pod')).join() === 'demo/web-3,demo/web-4', 10_000, 'convergence after re-list');
    const routeRequests = fake.log.slice(mark).filter((r) => r.path === '/apis/gateway.networking.k8s.io/v1/httproutes');
    expect(routeRequests.some((r) => r.query.watch !== 'true' && r.status === 200)).toBe(true);
    // Reports are gathered for 200 ms into one line per message.
    await eventually(() => /k8s: [^\n]*HTTPRoute\.gateway\.networking\.k8s\.io[^\n]*: resourceVersion is too old \(410 Gone\): listing again/.test(cp.stderr()), 3000, 'the 410 in the log');
  });

  it('reports an invalid object by its Kubernetes name and field and keeps its last good version', async () => {
    fake.apply(route('r1', -3));
    const status = await eventually(async () => {
      const s = await get('/debug/status');
      return s.errors.length > 0 ? s : undefined;
    }, 5000, 'the error in /debug/status');
    expect(status.errors.map((e: { text: string }) => e.text)).toEqual([
      expect.stringMatching(/^k8s:gateway\.networking\.k8s\.io\/v1\/HTTPRoute\/demo\/r1: HTTPRoute demo\/r1: spec\.rules\[0\]\.backendRefs\[0\]\.weight: /),
    ]);
    const r1 = ((await get('/debug/configz')).resources.HTTPRoute as { metadata: { name: string }; spec: any }[]).find((r) => r.metadata.name === 'r1')!;
    expect(r1.spec.rules[0].backendRefs[0].weight).toBe(5);
    fake.apply(route('r1', 7));
    await eventually(async () => (await get('/debug/status')).errors.length === 0, 5000, 'the error gone once fixed');
  });
});
