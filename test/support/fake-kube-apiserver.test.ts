/**
 * The fake API server against `@kubernetes/client-node`'s own clients: typed and generic LIST,
 * discovery, the informer's list/watch with ADD/UPDATE/DELETE, resume from the last
 * resourceVersion after a dropped watch, and a re-list after 410 Gone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, Watch, makeInformer, type V1Pod } from '@kubernetes/client-node';
import { FakeKubeApiServer, WEFT_CRDS } from './fake-kube-apiserver.ts';

let fake: FakeKubeApiServer;
let kc: KubeConfig;

beforeEach(async () => {
  fake = new FakeKubeApiServer({ bookmarkMs: 100 });
  await fake.listen();
  kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig());
});
afterEach(async () => {
  await fake.close();
});

const pod = (name: string, ip = '10.0.0.1') => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'demo' }, spec: { containers: [] }, status: { podIP: ip } });

async function until<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fake kube-apiserver', () => {
  it('serves typed and generic lists with one rising resourceVersion', async () => {
    fake.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
    const a = fake.apply(pod('a'));
    const b = fake.apply(pod('b'));
    expect(Number(b.metadata.resourceVersion)).toBeGreaterThan(Number(a.metadata.resourceVersion));
    const list = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'demo' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['a', 'b']);
    expect(list.metadata?.resourceVersion).toBe(String(fake.resourceVersion));
    // KubernetesObjectApi goes through discovery (/api/v1) to find the plural.
    const generic = await KubernetesObjectApi.makeApiClient(kc).list('v1', 'Pod', 'demo');
    expect(generic.items).toHaveLength(2);
    expect(fake.requests({ path: '/api/v1' })).toHaveLength(1);
  });

  it('serves a custom resource only once its CRD is created, at each served version', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const listRoutes = (version: string) => custom.listNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version, namespace: 'demo', plural: 'httproutes' });
    await expect(listRoutes('v1')).rejects.toMatchObject({ code: 404 });
    expect(() => fake.apply({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'demo' } })).toThrow(/no matches for kind/);
    fake.installCrds(WEFT_CRDS.filter((d) => d.kind === 'HTTPRoute'));
    fake.apply({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'demo' }, spec: {} });
    const v1 = await listRoutes('v1');
    const beta = await listRoutes('v1beta1');
    expect(v1.items[0].apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(beta.items[0].apiVersion).toBe('gateway.networking.k8s.io/v1beta1');
    const group = await (await fetch(`${fake.url}/apis/gateway.networking.k8s.io`)).json();
    expect(group.preferredVersion.version).toBe('v1');
  });

  it('creates, patches and deletes over HTTP (what kubectl and weft install do)', async () => {
    const api = KubernetesObjectApi.makeApiClient(kc);
    await api.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'a: 1' } } as never);
    await api.patch({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh: 'a: 2' } } as never, undefined, undefined, undefined, undefined, 'application/merge-patch+json' as never);
    expect(fake.get('v1', 'ConfigMap', 'istio-system', 'istio')?.data).toEqual({ mesh: 'a: 2' });
    await api.delete({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' } } as never);
    expect(fake.get('v1', 'ConfigMap', 'istio-system', 'istio')).toBeUndefined();
  });

  it("feeds client-node's informer, which resumes from the last resourceVersion and re-lists after 410", async () => {
    fake.apply(pod('a'));
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer<V1Pod>(kc, '/api/v1/namespaces/demo/pods', () => core.listNamespacedPod({ namespace: 'demo' }));
    const seen: string[] = [];
    informer.on('add', (p) => seen.push(`add ${p.metadata?.name}`));
    informer.on('update', (p) => seen.push(`update ${p.metadata?.name}`));
    informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name}`));
    // The informer stops on a plain error (a dropped connection is one): restart it, as a user must.
    informer.on('error', () => setTimeout(() => void informer.start(), 50));
    await informer.start();
    await until(() => fake.watchCount() === 1);
    fake.apply(pod('b'));
    fake.apply(pod('a', '10.0.0.9'));
    await until(() => seen.length >= 3);
    expect(seen).toEqual(['add a', 'add b', 'update a']);

    // Dropped: the change made while it was away arrives through a resumed watch, without a list.
    const lists = () => fake.requests({ path: '/api/v1/namespaces/demo/pods', watch: false }).length;
    const listsBefore = lists();
    const rv = String(fake.resourceVersion);
    fake.offline = true;
    fake.dropWatches();
    fake.remove('v1', 'Pod', 'demo', 'b');
    fake.offline = false;
    await until(() => seen.includes('delete b'));
    const resumed = fake.requests({ path: '/api/v1/namespaces/demo/pods', watch: true }).filter((r) => r.status === 200).at(-1)!;
    expect(resumed.query.resourceVersion).toBe(rv);
    expect(lists()).toBe(listsBefore);

    // Compacted: the resumed watch gets ERROR 410 and the informer lists again.
    await until(() => fake.watchCount() === 1);
    fake.offline = true;
    fake.dropWatches();
    fake.apply(pod('c'));
    fake.compactHistory();
    fake.offline = false;
    await until(() => seen.includes('add c'));
    expect(lists()).toBe(listsBefore + 1);
    await informer.stop();
  });

  it('sends bookmarks, ends a watch at timeoutSeconds and answers 410 as an ERROR event', async () => {
    const watch = new Watch(kc);
    const events: string[] = [];
    let done: unknown = 'open';
    const started = Date.now();
    await watch.watch('/api/v1/pods', { allowWatchBookmarks: true, timeoutSeconds: 1, resourceVersion: String(fake.resourceVersion) }, (type) => events.push(type), (err) => (done = err));
    await until(() => done !== 'open', 3000);
    expect(done).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(events).toContain('BOOKMARK');

    fake.apply(pod('x'));
    fake.compactHistory();
    const got: { type: string; obj: any }[] = [];
    let ended = false;
    await watch.watch('/api/v1/pods', { resourceVersion: '1' }, (type, obj) => got.push({ type, obj }), () => (ended = true));
    await until(() => ended);
    expect(got).toEqual([{ type: 'ERROR', obj: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
  });
});
