import { describe, expect, it } from 'vitest';
import { ConfigStore } from './store.ts';
import type { MeshSnapshot } from './snapshot.ts';
import { formatIssue } from './issues.ts';

const vs = (weight: number, other = 100 - weight) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: ${weight}
    - destination: {host: reviews}
      weight: ${other}
`;
const svc = (port: number) => `apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: ${port}}]
`;

const weights = (s: MeshSnapshot) =>
  ((s.resources.get('VirtualService')?.[0]?.spec as { http: { route: { weight: number }[] }[] }).http[0]!.route.map((r) => r.weight));
const servicePorts = (s: MeshSnapshot) => s.services.find((x) => x.name === 'reviews')!.ports.map((p) => p.port);

function setup() {
  const store = new ConfigStore();
  const seen: MeshSnapshot[] = [];
  store.subscribe((s) => seen.push(s));
  return { store, sink: store.sink('dir'), seen };
}

describe('ConfigStore', () => {
  it('starts empty at version 0', () => {
    const store = new ConfigStore();
    expect(store.snapshot.version).toBe(0);
    expect(store.snapshot.services).toEqual([]);
    expect(store.snapshot.mesh.trustDomain).toBe('cluster.local');
  });

  it('applies a change as a new snapshot with version + 1 and notifies', () => {
    const { store, sink, seen } = setup();
    sink.replaceFiles([{ path: 'a.yaml', text: `${vs(50)}---\n${svc(80)}` }]);
    expect(store.snapshot.version).toBe(1);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(store.snapshot);
    expect(weights(store.snapshot)).toEqual([50, 50]);
    expect(Object.isFrozen(store.snapshot)).toBe(true);
  });

  it('keeps the last good version of a bad resource while the valid neighbour applies', () => {
    const { store, sink } = setup();
    sink.replaceFiles([{ path: 'a.yaml', text: `${vs(50)}---\n${svc(80)}` }]);
    sink.replaceFiles([{ path: 'a.yaml', text: `${vs(200, 0)}---\n${svc(8080)}` }]);
    const s = store.snapshot;
    expect(s.version).toBe(2);
    expect(weights(s)).toEqual([50, 50]);
    expect(servicePorts(s)).toEqual([8080]);
    const errors = s.issues.filter((i) => i.severity === 'error').map(formatIssue);
    expect(errors).toEqual(['a.yaml:9: VirtualService default/reviews: spec.http[0].route[0].weight: must be 0..100']);
    expect(s.issues.some((i) => i.severity === 'warning' && /last good version \(read from a\.yaml:1\) stays in force/.test(i.message))).toBe(true);
  });

  it('a bad resource with no earlier good version is simply absent', () => {
    const { store, sink } = setup();
    sink.replaceFiles([{ path: 'a.yaml', text: `${vs(200)}---\n${svc(80)}` }]);
    expect(store.snapshot.resources.get('VirtualService')).toBeUndefined();
    expect(servicePorts(store.snapshot)).toEqual([80]);
  });

  it('keeps all previous resources of a file that no longer parses', () => {
    const { store, sink, seen } = setup();
    sink.replaceFiles([{ path: 'a.yaml', text: `${vs(50)}---\n${svc(80)}` }, { path: 'b.yaml', text: svc(80).replace('reviews', 'ratings') }]);
    const before = store.snapshot;
    sink.replaceFiles([{ path: 'a.yaml', text: 'apiVersion: v1\nkind: [oops\n' }, { path: 'b.yaml', text: svc(81).replace('reviews', 'ratings') }]);
    const s = store.snapshot;
    expect(weights(s)).toEqual([50, 50]);
    expect(servicePorts(s)).toEqual([80]);
    expect(s.services.find((x) => x.name === 'ratings')!.ports[0]!.port).toBe(81);
    expect(s.version).toBe(before.version + 1);
    expect(s.issues.some((i) => i.severity === 'error' && i.file === 'a.yaml' && /YAML syntax error/.test(i.message))).toBe(true);
    expect(s.issues.some((i) => /its 2 previous resources stay in force/.test(i.message))).toBe(true);
    expect(seen.at(-1)).toBe(s);
  });

  it('a syntax error alone changes issues but not the version', () => {
    const { store, sink, seen } = setup();
    sink.replaceFiles([{ path: 'a.yaml', text: svc(80) }]);
    const v = store.snapshot.version;
    sink.replaceFiles([{ path: 'a.yaml', text: 'kind: [\n' }]);
    expect(store.snapshot.version).toBe(v);
    expect(seen).toHaveLength(2);
    expect(store.snapshot.issues.filter((i) => i.severity === 'error')).toHaveLength(1);
    expect(servicePorts(store.snapshot)).toEqual([80]);
  });

  it('does not bump the version (nor notify) for unchanged input', () => {
    const { store, sink, seen } = setup();
    const files = [{ path: 'a.yaml', text: `${vs(50)}---\n${svc(80)}` }];
    sink.replaceFiles(files);
    const first = store.snapshot;
    sink.replaceFiles(files);
    sink.replaceFiles([{ path: 'a.yaml', text: `# a comment moves nothing that is served\n${vs(50)}---\n${svc(80)}` }]);
    expect(store.snapshot.version).toBe(first.version);
    expect(store.snapshot.services).toBe(first.services);
    expect(seen).toHaveLength(1);
  });

  it('removes the resources of a deleted file', () => {
    const { store, sink } = setup();
    sink.replaceFiles([{ path: 'a.yaml', text: vs(50) }, { path: 'b.yaml', text: svc(80) }]);
    sink.replaceFiles([{ path: 'b.yaml', text: svc(80) }]);
    expect(store.snapshot.resources.get('VirtualService')).toBeUndefined();
    expect(store.snapshot.version).toBe(2);
  });

  it('reports a duplicate name at both places and serves the first', () => {
    const { store, sink } = setup();
    sink.replaceFiles([{ path: 'a.yaml', text: svc(80) }, { path: 'b.yaml', text: svc(90) }]);
    expect(servicePorts(store.snapshot)).toEqual([80]);
    const dup = store.snapshot.issues.find((i) => /duplicate/.test(i.message))!;
    expect(formatIssue(dup)).toBe('b.yaml:3: Service default/reviews: metadata.name: duplicate: Service default/reviews is also defined at a.yaml:3; this definition is ignored');
  });

  it('an unreadable file keeps its previous resources', () => {
    const { store, sink } = setup();
    sink.replaceFiles([{ path: 'a.yaml', text: svc(80) }]);
    sink.replaceFiles([], [{ path: 'a.yaml', message: 'EACCES: permission denied' }]);
    expect(servicePorts(store.snapshot)).toEqual([80]);
    expect(store.snapshot.issues.some((i) => i.severity === 'error' && /cannot read: EACCES/.test(i.message))).toBe(true);
  });

  it('takes objects from a watch-style source: upsert, delete, replace', () => {
    const { store } = setup();
    const k8s = store.sink('k8s');
    const obj = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'prod' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } };
    k8s.upsertObjects([obj], 'k8s');
    expect(store.snapshot.services.map((s) => s.key)).toEqual(['prod/web.prod.svc.cluster.local']);
    k8s.upsertObjects([{ ...obj, spec: { ...obj.spec, ports: [{ port: 0 }] } }], 'k8s');
    expect(store.snapshot.services[0]!.ports[0]!.port).toBe(80);
    expect(store.snapshot.issues.some((i) => i.file === 'k8s' && i.path === 'spec.ports[0].port')).toBe(true);
    k8s.deleteObjects([{ apiVersion: 'v1', kind: 'Service', namespace: 'prod', name: 'web' }]);
    expect(store.snapshot.services).toEqual([]);
    k8s.replaceObjects([obj, { ...obj, metadata: { name: 'api', namespace: 'prod' } }]);
    expect(store.snapshot.services.map((s) => s.name)).toEqual(['api', 'web']);
  });

  it('reads mesh settings from the istio ConfigMap, and a mesh file takes precedence', () => {
    const cm = (mode: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |
    trustDomain: example.org
    outboundTrafficPolicy:
      mode: ${mode}
`;
    const { store, sink } = setup();
    sink.replaceFiles([{ path: 'mesh.yaml', text: cm('REGISTRY_ONLY') }]);
    expect(store.snapshot.mesh.trustDomain).toBe('example.org');
    expect(store.snapshot.mesh.outboundTrafficPolicy).toBe('REGISTRY_ONLY');
    // A bad mesh text rejects the ConfigMap: its last good settings stay.
    sink.replaceFiles([{ path: 'mesh.yaml', text: cm('NOPE') }]);
    expect(store.snapshot.mesh.outboundTrafficPolicy).toBe('REGISTRY_ONLY');
    const err = store.snapshot.issues.find((i) => i.severity === 'error')!;
    expect(formatIssue(err)).toMatch(/^mesh\.yaml:8: ConfigMap istio-system\/istio: data\.mesh\.outboundTrafficPolicy\.mode: must be one of ALLOW_ANY, REGISTRY_ONLY/);

    const withFile = new ConfigStore({ meshFile: { path: 'mesh-config.yaml', text: 'trustDomain: file.example\n' }, rootCa: { source: 'cacerts', dir: '/etc/cacerts' } });
    withFile.sink('dir').replaceFiles([{ path: 'mesh.yaml', text: cm('REGISTRY_ONLY') }]);
    expect(withFile.snapshot.mesh.trustDomain).toBe('file.example');
    expect(withFile.snapshot.mesh.outboundTrafficPolicy).toBe('ALLOW_ANY');
    expect(withFile.snapshot.mesh.rootCa).toEqual({ source: 'cacerts', dir: '/etc/cacerts' });
    expect(withFile.snapshot.issues.some((i) => /takes precedence/.test(i.message))).toBe(true);
    withFile.setMeshFile({ path: 'mesh-config.yaml', text: 'trustDomain: "Not Valid"\n' });
    expect(withFile.snapshot.mesh.trustDomain).toBe('file.example');
    expect(withFile.snapshot.issues.some((i) => i.severity === 'error' && i.file === 'mesh-config.yaml' && i.path === 'trustDomain' && i.line === 1)).toBe(true);
  });

  it('warns about MeshConfig fields Weft does not support yet', () => {
    const store = new ConfigStore({ meshFile: { path: 'm.yaml', text: 'trustDomain: a.b\ndefaultConfig:\n  concurrency: 2\nnoSuchField: 1\n' } });
    const w = store.snapshot.issues.map(formatIssue);
    expect(w).toContain('m.yaml:2: defaultConfig: is not supported by Weft yet and is ignored');
    expect(w).toContain('m.yaml:4: noSuchField: unknown MeshConfig field; ignored');
    expect(store.snapshot.mesh.trustDomain).toBe('a.b');
  });

  it('passes a subscriber error on without skipping other subscribers', () => {
    const errors: unknown[] = [];
    const store = new ConfigStore({ onSubscriberError: (e) => errors.push(e) });
    let called = 0;
    store.subscribe(() => {
      throw new Error('boom');
    });
    const off = store.subscribe(() => called++);
    store.sink('x').replaceFiles([{ path: 'a.yaml', text: svc(80) }]);
    off();
    store.sink('x').replaceFiles([{ path: 'a.yaml', text: svc(81) }]);
    expect(called).toBe(1);
    expect(errors).toHaveLength(2);
  });

  it('adds and removes sources', async () => {
    const store = new ConfigStore();
    let stopped = false;
    await store.addSource({ id: 's', start: (sink) => sink.replaceFiles([{ path: 'a.yaml', text: svc(80) }]), stop: () => void (stopped = true) });
    expect(store.snapshot.services).toHaveLength(1);
    await store.removeSource('s');
    expect(stopped).toBe(true);
    expect(store.snapshot.services).toHaveLength(0);
  });

  it('re-reads only the changed documents of a file, keeping line numbers right and unchanged resources identical', () => {
    const { store, sink } = setup();
    const named = (n: string, port: number) => svc(port).replace('name: reviews', `name: ${n}`);
    sink.replaceFiles([{ path: 'a.yaml', text: [named('a', 80), named('b', 80), named('c', 70000)].join('---\n') }]);
    const before = store.snapshot.resources.get('Service')!;
    expect(store.snapshot.issues.map(formatIssue)).toContain('a.yaml:20: Service default/c: spec.ports[0].port: must be 1..65535');
    // Document a grows by two lines: b and c move down, b keeps its content.
    sink.replaceFiles([{ path: 'a.yaml', text: [`# one\n# two\n${named('a', 81)}`, named('b', 80), named('c', 70000)].join('---\n') }]);
    const after = store.snapshot.resources.get('Service')!;
    expect(after.find((r) => r.metadata.name === 'b')!.origin).toEqual({ file: 'a.yaml', line: 10 });
    expect(store.snapshot.issues.map(formatIssue)).toContain('a.yaml:22: Service default/c: spec.ports[0].port: must be 1..65535');
    // A change elsewhere that moves nothing keeps b's resource object, so consumers can cache by it.
    sink.replaceFiles([{ path: 'a.yaml', text: [`# one\n# two\n${named('a', 82)}`, named('b', 80), named('c', 70000)].join('---\n') }]);
    expect(store.snapshot.resources.get('Service')!.find((r) => r.metadata.name === 'b')).toBe(after.find((r) => r.metadata.name === 'b'));
    expect(before).toHaveLength(2);
  });

  it('rebuilds workloads when their namespace changes (ambient enrolment)', () => {
    const { store, sink } = setup();
    const ns = (mode: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  labels: {istio.io/dataplane-mode: ${mode}}\n`;
    const we = 'apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w, labels: {weft.io/node: n1}}\nspec: {address: 10.0.0.1}\n';
    sink.replaceFiles([{ path: 'ns.yaml', text: ns('none') }, { path: 'w.yaml', text: we }]);
    expect(store.snapshot.workloads[0]!.tunnelProtocol).toBe('NONE');
    sink.replaceFiles([{ path: 'ns.yaml', text: ns('ambient') }, { path: 'w.yaml', text: we }]);
    expect(store.snapshot.workloads[0]!.tunnelProtocol).toBe('HBONE');
  });
});
