/**
 * The Kubernetes source in process, against the fake API server and a real ConfigStore: the first
 * batch, watch events, resume after a drop, re-list after 410, the object as the unit of rejection,
 * TLS Secrets only, kinds the cluster does not serve (then does, then no longer does).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigStore, formatIssue } from '../../../core/config/index.ts';
import { FakeKubeApiServer, WEFT_CRDS } from '../../../test/support/fake-kube-apiserver.ts';
import { kubeClient } from './kube-client.ts';
import { KubernetesSource } from './kubernetes-source.ts';

let fake: FakeKubeApiServer;
let store: ConfigStore;
let source: KubernetesSource;
let logs: string[];

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const svc = (name: string, port = 80) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'demo' }, spec: { selector: { app: name }, ports: [{ name: 'http', port }] } });
const route = (name: string, weight = 1) => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name, namespace: 'demo' },
  spec: { parentRefs: [{ name: 'web', kind: 'Service', group: '' }], rules: [{ backendRefs: [{ name: 'web', port: 80, weight }] }] },
});

async function until<T>(what: string, fn: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const names = (kind: string) => (store.snapshot.resources.get(kind) ?? []).map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort();

async function startSource(opts: { rediscoverMs?: number; pageSize?: number } = {}): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfig());
  source = new KubernetesSource({ client: kubeClient(kc), log: (l) => logs.push(l), backoffMs: { initial: 50, max: 200 }, batchMs: 5, ...opts });
  await store.addSource(source);
}

beforeEach(async () => {
  fake = new FakeKubeApiServer({ bookmarkMs: 100 });
  await fake.listen();
  store = new ConfigStore();
  logs = [];
  fake.apply(ns('demo'));
  fake.apply(svc('web'));
});
afterEach(async () => {
  await store.close();
  await fake.close();
});

describe('KubernetesSource', () => {
  it('hands the first lists over as one batch, then each change', async () => {
    fake.installCrds(WEFT_CRDS.filter((d) => d.kind !== 'InferenceObjective'));
    fake.apply(route('r1'));
    const versions: number[] = [];
    store.subscribe((s) => versions.push(s.version));
    await startSource();
    // One snapshot for the whole first batch.
    expect(versions).toHaveLength(1);
    expect(names('Service')).toEqual(['demo/web']);
    expect(names('HTTPRoute')).toEqual(['demo/r1']);
    // The kind the cluster does not serve: one line, no error loop.
    expect(logs.filter((l) => /InferenceObjective/.test(l))).toEqual([expect.stringMatching(/InferenceObjective\.inference\.networking\.x-k8s\.io is not served by the cluster.*skipped/)]);

    fake.apply(route('r2'));
    fake.apply(svc('api'));
    await until('added objects', () => names('HTTPRoute').length === 2 && names('Service').length === 2);
    fake.remove('gateway.networking.k8s.io/v1', 'HTTPRoute', 'demo', 'r1');
    await until('deleted route', () => names('HTTPRoute').join() === 'demo/r2');
    expect(store.snapshot.issues.filter((i) => i.severity === 'error')).toEqual([]);
  });

  it('reads lists page by page and watches from the first page\'s resourceVersion', async () => {
    for (let i = 0; i < 5; i++) fake.apply(svc(`s${i}`));
    const listRv = String(fake.resourceVersion);
    await startSource({ pageSize: 2 });
    expect(names('Service')).toHaveLength(6);
    const lists = fake.requests({ path: '/api/v1/services', watch: false });
    expect(lists.map((r) => Boolean(r.query.continue))).toEqual([false, true, true]);
    const watch = await until('the watch', () => fake.requests({ path: '/api/v1/services', watch: true })[0]);
    expect(watch.query.resourceVersion).toBe(listRv);
  });

  it('resumes a dropped watch from the last resourceVersion and misses nothing made meanwhile', async () => {
    await startSource();
    await until('watches open', () => fake.watchCount() === source.reflectors.size);
    const listsBefore = fake.requests({ path: '/api/v1/services', watch: false }).length;
    const rv = source.reflectors.get('Service')!.resourceVersion;
    fake.offline = true;
    fake.dropWatches();
    fake.apply(svc('api'));
    fake.apply(svc('web', 8080));
    fake.offline = false;
    await until('changes made while away', () => names('Service').length === 2 && store.snapshot.services.some((s) => s.name === 'web' && s.ports[0]?.port === 8080));
    const resumed = fake.requests({ path: '/api/v1/services', watch: true }).filter((r) => r.status === 200);
    expect(resumed.at(-1)!.query.resourceVersion).toBe(rv);
    expect(fake.requests({ path: '/api/v1/services', watch: false })).toHaveLength(listsBefore);
  });

  it('lists again after 410 Gone and converges, deletions included', async () => {
    fake.apply(svc('old'));
    await startSource();
    await until('watches open', () => fake.watchCount() === source.reflectors.size);
    fake.offline = true;
    fake.dropWatches();
    fake.remove('v1', 'Service', 'demo', 'old');
    fake.apply(svc('new'));
    fake.compactHistory();
    fake.offline = false;
    await until('converged after re-list', () => names('Service').join() === 'demo/new,demo/web');
    expect(source.reflectors.get('Service')!.stats).toMatchObject({ lists: 2, expired: 1 });
    await until('the 410 reported', () => logs.some((l) => /^k8s: (.*, )?Service(, .*)?: resourceVersion is too old \(410 Gone\): listing again$/.test(l)));
  });

  it('rejects an invalid object by its Kubernetes name and field, keeping its last good version', async () => {
    fake.installCrds();
    fake.apply(route('r1', 5));
    await startSource();
    fake.apply(route('r1', -3));
    const err = await until('the error', () => store.snapshot.issues.find((i) => i.severity === 'error'));
    expect(formatIssue(err)).toMatch(/^k8s:gateway\.networking\.k8s\.io\/v1\/HTTPRoute\/demo\/r1: HTTPRoute demo\/r1: spec\.rules\[0\]\.backendRefs\[0\]\.weight: /);
    const kept = store.snapshot.resources.get('HTTPRoute')![0]!.spec as { rules: { backendRefs: { weight: number }[] }[] };
    expect(kept.rules[0]!.backendRefs[0]!.weight).toBe(5);
  });

  it('reads only TLS Secrets, only their certificate keys, and never logs them', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    fake.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cert', namespace: 'demo' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('CRT'), 'tls.key': b64('KEY-SECRET'), extra: b64('x') } });
    fake.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'demo' }, type: 'Opaque', data: { password: b64('hunter2') } });
    await startSource();
    const secrets = store.snapshot.resources.get('Secret')!;
    expect(secrets.map((s) => s.metadata.name)).toEqual(['cert']);
    expect(Object.keys((secrets[0]!.extra as { data: object }).data).sort()).toEqual(['tls.crt', 'tls.key']);
    expect(fake.requests({ path: '/api/v1/secrets' })[0]!.query.fieldSelector).toBe('type=kubernetes.io/tls');
    expect(logs.join('\n')).not.toMatch(/KEY-SECRET|hunter2|S0VZLVNFQ1JFVA/);
  });

  it('writes Gateway API status back, keeping other controllers\' route parents, and only when it changes', async () => {
    fake.installCrds();
    fake.apply({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'edge', namespace: 'demo' }, spec: { gatewayClassName: 'weft', listeners: [{ name: 'http', port: 8080, protocol: 'HTTP' }] } });
    const r = { ...route('r1'), spec: { parentRefs: [{ name: 'edge' }], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] } };
    fake.apply(r);
    const other = { parentRef: { name: 'x' }, controllerName: 'example.com/other', conditions: [] };
    fake.apply({ ...fake.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'demo', 'r1')!, status: { parents: [other] } });
    await startSource();
    const writer = source.writeStatus((fn) => store.subscribe(fn), { debounceMs: 20 });
    fake.apply(svc('web', 80)); // a change, so a snapshot reaches the writer
    const gw = await until('Gateway status', () => fake.get('gateway.networking.k8s.io/v1', 'Gateway', 'demo', 'edge')?.status?.conditions);
    expect(gw).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'True', lastTransitionTime: expect.any(String) }));
    const parents = await until('route status', () => {
      const p = fake.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'demo', 'r1')?.status?.parents as { controllerName: string; conditions: { type: string; status: string }[] }[] | undefined;
      return p && p.length === 2 ? p : undefined;
    });
    expect(parents[0]).toEqual(other);
    expect(parents[1]!.controllerName).toBe('weft.io/gateway-controller');
    expect(parents[1]!.conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'True' }));
    expect(fake.requests({ method: 'PATCH', path: '/apis/gateway.networking.k8s.io/v1/namespaces/demo/httproutes/r1/status' }).length).toBeGreaterThan(0);
    // Steady: our own writes come back through the watch and call for no further write.
    await new Promise((res) => setTimeout(res, 300));
    const settled = writer.writes;
    let snapshots = 0;
    store.subscribe(() => snapshots++);
    fake.apply(svc('web', 80)); // another snapshot, same status
    await new Promise((res) => setTimeout(res, 300));
    expect(snapshots).toBeGreaterThan(0);
    expect(writer.writes).toBe(settled);
  });

  it('picks up a CRD installed later and drops the objects of a CRD removed', async () => {
    await startSource({ rediscoverMs: 100 });
    expect(logs.filter((l) => /HTTPRoute\.gateway\.networking\.k8s\.io is not served/.test(l))).toHaveLength(1);
    fake.installCrds(WEFT_CRDS.filter((d) => d.kind === 'HTTPRoute'));
    fake.apply(route('late'));
    await until('route of a CRD installed later', () => names('HTTPRoute').join() === 'demo/late');
    fake.remove('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, 'httproutes.gateway.networking.k8s.io');
    await until('route dropped with its CRD', () => names('HTTPRoute').length === 0);
  });
});
