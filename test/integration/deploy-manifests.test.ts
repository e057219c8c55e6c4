/**
 * The Kubernetes manifests `weft install` renders (hosts/node/install/, deploy/k8s/): every profile through
 * the built binary; every document parses; core, apps, rbac and apiextensions kinds validate against the
 * Kubernetes OpenAPI schemas of kubernetes-models 4.5 (design.md 8 names 5.x, which needs Node 22); every
 * CRD schema is structural and accepts the sample config and the test fixtures (ajv, every served
 * version); the committed deploy/k8s/ is what the code renders; the ambient profile applies to the fake
 * API server; an unknown --set key fails with the list of known keys.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import AjvModule from 'ajv';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { WEFT_BIN, assertBuilt } from '../support/weft-child.ts';
import { FakeKubeApiServer } from '../support/fake-kube-apiserver.ts';
import { eventually, startControl, type ControlProcess } from '../support/weft-process.ts';
import { structuralProblems } from '../../hosts/node/install/structural-check.ts';
import { KIND_DEFS } from '../../core/config/kinds.ts';
import { SAMPLE_FILES } from '../../core/config/sample/index.ts';

type Obj = Record<string, any>;

const Ajv = ((AjvModule as unknown as { default?: typeof AjvModule }).default ?? AjvModule) as unknown as new (o: object) => {
  addKeyword(k: object): void;
  compile(s: object): ((d: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
};

function weft(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [WEFT_BIN, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function docs(text: string, where: string): Obj[] {
  return parseAllDocuments(text).map((d, i) => {
    expect(d.errors, `${where} document ${i}`).toEqual([]);
    return d.toJS() as Obj;
  }).filter((o) => o !== null);
}

/** The kubernetes-models class for each built-in kind the manifests use (anything else must be a CRD kind). */
const MODELS: Record<string, new (o: Obj) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
} as never;

const RENDERS: Record<string, string[]> = {
  ambient: ['--profile', 'ambient'],
  minimal: ['--profile', 'minimal'],
  empty: ['--profile', 'empty'],
  waypoint: ['--profile', 'empty', '--set', 'components.waypoint=true', '--set', 'waypoint.namespace=shop', '--set', 'waypoint.name=shop-waypoint'],
  custom: ['--profile', 'ambient', '--set', 'namespace=mesh', '--set', 'capture=none', '--set', 'crds.gatewayApi=false', '--set', 'nodeSelector.kubernetes.io/os=linux', '--set', 'controlReplicas=2', '--set', 'logLevel=debug', '--set', 'image=registry.local/weft:dev'],
};

const out: Record<string, Obj[]> = {};
let crds: Obj[] = [];
/** group/Kind/version -> compiled validator */
const validators = new Map<string, ReturnType<InstanceType<typeof Ajv>['compile']>>();

beforeAll(() => {
  assertBuilt();
  for (const [name, args] of Object.entries(RENDERS)) {
    const r = weft(['install', ...args]);
    expect(r.code, `weft install ${args.join(' ')}: ${r.stderr}`).toBe(0);
    out[name] = docs(r.stdout, name);
  }
  crds = out.ambient!.filter((o) => o.kind === 'CustomResourceDefinition');
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  // Kubernetes' extensions: preserve-unknown-fields only stops pruning (no constraint to check);
  // int-or-string constrains the type
  ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields' });
  ajv.addKeyword({ keyword: 'x-kubernetes-int-or-string', validate: (on: boolean, v: unknown) => !on || typeof v === 'string' || Number.isInteger(v) });
  for (const crd of crds) {
    for (const v of crd.spec.versions) validators.set(`${crd.spec.group}/${crd.spec.names.kind}/${v.name}`, ajv.compile(v.schema.openAPIV3Schema));
  }
});

describe('weft install renders every profile', () => {
  it('ambient: CRDs, namespace, control plane and node proxies; minimal: no node proxies; empty: nothing', () => {
    const kinds = (name: string) => out[name]!.map((o) => o.kind);
    expect(new Set(kinds('ambient'))).toEqual(new Set(['CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Service', 'DaemonSet']));
    expect(kinds('minimal')).not.toContain('DaemonSet');
    expect(kinds('minimal')).toContain('Deployment');
    expect(kinds('minimal').filter((k) => k === 'CustomResourceDefinition')).toHaveLength(crds.length);
    expect(out.empty).toEqual([]);
    expect(crds).toHaveLength(17);
    // CRDs come first, so one `kubectl apply -f -` can create the kinds before anything uses them
    const firstOther = out.ambient!.findIndex((o) => o.kind !== 'CustomResourceDefinition');
    expect(out.ambient!.slice(firstOther).some((o) => o.kind === 'CustomResourceDefinition')).toBe(false);
  });

  it('the waypoint template is the Gateway `weft waypoint apply` writes, with its ServiceAccount, Deployment and Service', () => {
    const gw = out.waypoint!.find((o) => o.kind === 'Gateway')!;
    expect(gw).toEqual({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'shop-waypoint', namespace: 'shop', labels: { 'istio.io/waypoint-for': 'service' } },
      spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
    });
    const dep = out.waypoint!.find((o) => o.kind === 'Deployment')!;
    expect(dep.spec.template.spec.serviceAccountName).toBe('shop-waypoint');
    expect(dep.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['waypoint', '--namespace', 'shop', '--name', 'shop-waypoint', '--control', 'weft-control.weft-system.svc:15012']));
    const svc = out.waypoint!.find((o) => o.kind === 'Service')!;
    expect(svc.spec.selector).toEqual(dep.spec.template.metadata.labels['gateway.networking.k8s.io/gateway-name'] && { 'gateway.networking.k8s.io/gateway-name': 'shop-waypoint' });
    expect(out.waypoint!.map((o) => o.metadata.namespace)).toEqual(['shop', 'shop', 'shop', 'shop']);
  });

  it('--set values reach every object they concern', () => {
    const c = out.custom!;
    expect(c.filter((o) => o.metadata.namespace !== undefined).every((o) => o.metadata.namespace === 'mesh')).toBe(true);
    expect(c.some((o) => o.spec?.group === 'gateway.networking.k8s.io')).toBe(false);
    expect(c.some((o) => o.spec?.group === 'networking.istio.io')).toBe(true);
    const ds = c.find((o) => o.kind === 'DaemonSet')!;
    const node = ds.spec.template.spec.containers[0];
    // capture=none: no capabilities at all, and no host netns or CNI socket mounts
    expect(node.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect(ds.spec.template.spec.volumes.map((v: Obj) => v.name)).not.toContain('netns');
    expect(node.command[2]).toContain('--capture none');
    expect(node.command[2]).toContain("--control 'weft-control.mesh.svc:15012'");
    expect(node.command[2]).toContain('--verbose');
    expect(node.image).toBe('registry.local/weft:dev');
    expect(ds.spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    const dep = c.find((o) => o.kind === 'Deployment')!;
    expect(dep.spec.replicas).toBe(2);
    expect(dep.spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(c.find((o) => o.kind === 'ClusterRoleBinding')!.subjects[0].namespace).toBe('mesh');
  });

  it('the node proxy gets exactly the capabilities capture needs, and the control plane none', () => {
    const ds = out.ambient!.find((o) => o.kind === 'DaemonSet')!;
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    const sc = pod.containers[0].securityContext;
    expect(sc.capabilities).toEqual({ drop: ['ALL'], add: ['SYS_ADMIN', 'NET_ADMIN', 'NET_RAW'] });
    expect(sc.privileged).toBe(false);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    // the join-token key reaches only the init container, the CA key nobody on the node
    expect(pod.containers[0].volumeMounts.map((m: Obj) => m.name)).not.toContain('token-key');
    expect(pod.volumes.find((v: Obj) => v.name === 'root-cert').secret.items).toEqual([{ key: 'root-cert.pem', path: 'root-cert.pem' }]);
    const control = out.ambient!.find((o) => o.kind === 'Deployment')!.spec.template.spec;
    expect(control.containers[0].securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect(control.securityContext.runAsNonRoot).toBe(true);
    expect(control.containers[0].args.slice(0, 2)).toEqual(['control', '--kubernetes']);
    const svc = out.ambient!.find((o) => o.kind === 'Service' && o.metadata.name === 'weft-control')!;
    expect(svc.spec.ports.map((p: Obj) => p.port)).toEqual([15010, 15012, 15014]);
  });
});

describe('manifests are valid Kubernetes objects', () => {
  it('every built-in kind validates against the Kubernetes OpenAPI schema (kubernetes-models)', () => {
    let checked = 0;
    for (const [name, objs] of Object.entries(out)) {
      for (const o of objs) {
        const Model = MODELS[`${o.apiVersion}/${o.kind}`];
        if (!Model) {
          // not built in: a kind one of our CRDs serves (the waypoint's Gateway), validated below
          const validate = validators.get(`${o.apiVersion.split('/')[0]}/${o.kind}/${o.apiVersion.split('/')[1]}`);
          expect(validate, `${name}: ${o.apiVersion} ${o.kind} is a kind our CRDs serve`).toBeDefined();
          expect(validate!(o), `${name}: ${o.kind} ${o.metadata?.name}: ${JSON.stringify(validate!.errors)}`).toBe(true);
          checked++;
          continue;
        }
        expect(() => new Model(o).validate(), `${name}: ${o.kind} ${o.metadata?.name}`).not.toThrow();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('the validation bites: a malformed Deployment and CRD are refused', () => {
    const dep = structuredClone(out.ambient!.find((o) => o.kind === 'Deployment')!);
    dep.spec.replicas = 'two';
    expect(() => new Deployment(dep).validate()).toThrow();
    const crd = structuredClone(crds[0]!);
    crd.spec.versions[0].served = 'yes';
    expect(() => new CustomResourceDefinition(crd as never).validate()).toThrow();
  });

  it('every CRD schema is structural and every version is one Weft reads, with one storage version', () => {
    for (const crd of crds) {
      const { group, names } = crd.spec;
      expect(crd.metadata.name).toBe(`${names.plural}.${group}`);
      expect(crd.spec.versions.filter((v: Obj) => v.storage)).toHaveLength(1);
      const reads = KIND_DEFS.filter((d) => d.group === group && d.kind === names.kind).flatMap((d) => d.versions);
      for (const v of crd.spec.versions) {
        expect(reads, `${crd.metadata.name} serves ${v.name}`).toContain(v.name);
        expect(v.served).toBe(true);
        expect(structuralProblems(v.schema.openAPIV3Schema), `${crd.metadata.name} ${v.name}`).toEqual([]);
      }
      // protected groups (*.k8s.io) need the approval annotation or the API server refuses the CRD
      if (/\.k8s\.io$|\.kubernetes\.io$/.test(group)) expect(crd.metadata.annotations?.['api-approved.kubernetes.io']).toBeTruthy();
      // client-side `kubectl apply` keeps the whole object in an annotation limited to 256 KiB
      expect(JSON.stringify(crd).length, crd.metadata.name).toBeLessThan(256 * 1024);
    }
  });

  it('the structural check finds what the API server refuses', () => {
    expect(structuralProblems({ type: 'object', properties: { a: { $ref: '#/x' }, b: { type: 'array' }, c: { type: ['string', 'null'] } } })).toEqual([
      '.a: $ref is not allowed in a CRD schema',
      '.a: no type (and neither x-kubernetes-int-or-string nor x-kubernetes-preserve-unknown-fields)',
      '.b: an array needs one items schema',
      '.c: type ["string","null"] is not one of object, array, string, integer, number, boolean',
    ]);
    expect(structuralProblems({ type: 'object', properties: { p: { type: 'string', pattern: '^(?!x)' } }, additionalProperties: { type: 'string' } })).toHaveLength(2);
  });
});

/** The config documents of the sample and the fixtures that are Weft's CRD kinds. */
function configDocuments(): { where: string; obj: Obj }[] {
  const files: { path: string; text: string }[] = [...SAMPLE_FILES];
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(f)) files.push({ path: p, text: readFileSync(p, 'utf8') });
    }
  };
  // test/fixtures/config/invalid/ holds resources Weft must reject: not all of them are schema errors
  walk('test/fixtures/config/valid');
  files.push({ path: 'test/fixtures/config/mesh-config.yaml', text: readFileSync('test/fixtures/config/mesh-config.yaml', 'utf8') });
  return files.flatMap((f) => docs(f.text, f.path).map((obj, i) => ({ where: `${f.path}#${i}`, obj })));
}

describe('CRD schemas accept the config Weft reads', () => {
  it('the sample config and the valid fixtures validate against their CRD, in every version served', () => {
    let checked = 0;
    for (const { where, obj } of configDocuments()) {
      const [group, version] = String(obj.apiVersion).includes('/') ? String(obj.apiVersion).split('/') : ['', obj.apiVersion];
      const crd = crds.find((c) => c.spec.group === group && c.spec.names.kind === obj.kind);
      if (!crd) continue; // core v1 kinds and MeshConfig
      expect(crd.spec.versions.map((v: Obj) => v.name), `${where}: ${obj.apiVersion} is served`).toContain(version);
      for (const v of crd.spec.versions) {
        const validate = validators.get(`${group}/${obj.kind}/${v.name}`)!;
        const ok = validate({ ...obj, apiVersion: `${group}/${v.name}` });
        expect(ok, `${where} as ${group}/${v.name} ${obj.kind}: ${JSON.stringify(validate.errors)}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(15);
  });

  it('and refuse what the API server should refuse: wrong types, unknown enum values, missing required fields', () => {
    const vs = validators.get('networking.istio.io/VirtualService/v1')!;
    expect(vs({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'a' }, spec: { hosts: ['a'] } })).toBe(true);
    expect(vs({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'a' }, spec: { hosts: 'a' } })).toBe(false);
    const ap = validators.get('security.istio.io/AuthorizationPolicy/v1beta1')!;
    expect(ap({ apiVersion: 'security.istio.io/v1beta1', kind: 'AuthorizationPolicy', metadata: { name: 'a' }, spec: { action: 'PERMIT' } })).toBe(false);
    const route = validators.get('gateway.networking.k8s.io/HTTPRoute/v1')!;
    expect(route({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'a' }, spec: { parentRefs: [{ port: 80 }] } })).toBe(false);
    // unknown fields are kept (Weft reports them), not refused
    expect(vs({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'a' }, spec: { hosts: ['a'], someFutureField: { x: 1 } } })).toBe(true);
  });
});

describe('deploy/k8s is what the code renders', () => {
  it('scripts/gen-crds.mjs --check finds nothing stale', () => {
    const r = spawnSync(process.execPath, ['scripts/gen-crds.mjs', '--check'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
  });

  it('the committed profiles and CRDs equal the built binary output', () => {
    for (const profile of ['ambient', 'minimal']) {
      const r = weft(['install', '--profile', profile, '--set', 'components.crds=false']);
      expect(r.stdout).toBe(readFileSync(`deploy/k8s/profiles/${profile}.yaml`, 'utf8'));
    }
    const committed = ['istio', 'gateway-api', 'inference'].flatMap((f) => docs(readFileSync(`deploy/k8s/crds/${f}.yaml`, 'utf8'), f));
    expect(committed).toEqual(crds);
  });
});

describe('command line', () => {
  it('an unknown --set key fails and lists the known keys', () => {
    const r = weft(['install', '--profile', 'ambient', '--set', 'values.global.hub=x']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/--set values\.global\.hub: unknown key\. Known keys:/);
    for (const k of ['namespace', 'hub', 'tag', 'image', 'trustDomain', 'controlReplicas', 'logLevel', 'nodeSelector.<label>', 'crds.gatewayApi']) expect(r.stderr).toContain(`  ${k} `);
  });

  it('bad values and profiles fail with what is wrong', () => {
    expect(weft(['install', '--profile', 'demo']).stderr).toMatch(/unknown profile "demo": one of ambient, minimal, empty/);
    expect(weft(['install', '--set', 'controlReplicas=many']).stderr).toMatch(/controlReplicas=many: a whole number/);
    expect(weft(['install', '--set', 'capture=ebpf']).stderr).toMatch(/capture=ebpf: one of iptables, none/);
    expect(weft(['install', '--set', 'namespace=Weft_System']).stderr).toMatch(/not a DNS-1123 label/);
    expect(weft(['install', '--set', 'namespace']).code).not.toBe(0);
  });
});

describe('the ambient profile applies to an API server, and its command lines run', () => {
  const api = new FakeKubeApiServer();
  const tmp = mkdtempSync(join(tmpdir(), 'weft-deploy-'));
  let control: ControlProcess | undefined;
  let node: ChildProcess | undefined;
  /** Config objects of CRD kinds created in the fake API server (the control plane must read them). */
  const appliedNames: string[] = [];
  afterAll(async () => {
    node?.kill('SIGKILL');
    await control?.stop();
    await api.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('every object is accepted over HTTP (discovery, then POST), and the CRDs serve their kinds', async () => {
    const base = await api.listen();
    const get = async (path: string): Promise<Obj> => (await fetch(base + path)).json() as Promise<Obj>;
    /** What kubectl does: find the plural and scope of a kind through discovery, then POST it. */
    const create = async (o: Obj): Promise<number> => {
      const gv = String(o.apiVersion);
      const list = await get(gv.includes('/') ? `/apis/${gv}` : `/api/${gv}`);
      const res = (list.resources as Obj[] | undefined)?.find((r) => r.kind === o.kind && !String(r.name).includes('/'));
      expect(res, `${gv} ${o.kind} is served`).toBeDefined();
      const prefix = gv.includes('/') ? `/apis/${gv}` : `/api/${gv}`;
      const path = res!.namespaced ? `${prefix}/namespaces/${o.metadata.namespace ?? 'default'}/${res!.name}` : `${prefix}/${res!.name}`;
      const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(o) });
      if (r.status !== 201) throw new Error(`${o.kind} ${o.metadata.name}: ${r.status} ${await r.text()}`);
      return r.status;
    };
    for (const o of out.ambient!) expect(await create(o)).toBe(201);
    for (const o of out.ambient!) {
      expect(api.get(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name), `${o.kind} ${o.metadata.name} stored`).toBeDefined();
    }
    // the kinds are now served, in every version: the sample's config applies too
    let applied = 0;
    for (const { obj } of configDocuments()) {
      if (!crds.some((c) => `${c.spec.group}/${c.spec.names.kind}` === `${String(obj.apiVersion).split('/')[0]}/${obj.kind}`)) continue;
      const name = `${obj.metadata.name}-${applied}`;
      expect(await create({ ...obj, metadata: { ...obj.metadata, name } })).toBe(201);
      appliedNames.push(name);
      applied++;
    }
    expect(applied).toBeGreaterThan(5);
  });

  it("the control plane runs with the Deployment's arguments, and a node proxy joins with the DaemonSet's start line and its init container's token", async () => {
    const objs = out.ambient!;
    const dep = objs.find((o) => o.kind === 'Deployment')!.spec.template.spec;
    const ds = objs.find((o) => o.kind === 'DaemonSet')!.spec.template.spec;
    const mesh = objs.find((o) => o.kind === 'ConfigMap')!.data['mesh.yaml'];
    // what the Secrets, the ConfigMap and the mounts put in the pods, in a temporary directory
    const d = (...p: string[]) => join(tmp, ...p);
    for (const args of [['ca', 'root', '--out', d('root')], ['ca', 'intermediate', '--root', d('root'), '--name', 'c1', '--out', d('cacerts')]]) expect(weft(args).code).toBe(0);
    mkdirSync(d('token-key'));
    writeFileSync(d('token-key', 'token-key'), `${randomBytes(32).toString('base64')}\n`);
    mkdirSync(d('state'));
    copyFileSync(d('token-key', 'token-key'), d('state', 'token-key')); // the subPath mount
    writeFileSync(d('mesh.yaml'), mesh);
    writeFileSync(d('kubeconfig'), api.kubeconfig());
    mkdirSync(d('bin'));
    writeFileSync(d('bin', 'weft'), `#!/bin/sh\nexec "${process.execPath}" "${WEFT_BIN}" "$@"\n`);
    chmodSync(d('bin', 'weft'), 0o755);
    mkdirSync(d('token'));

    const paths: [string, string][] = [
      ['/etc/weft/mesh/mesh.yaml', d('mesh.yaml')],
      ['/etc/cacerts', d('cacerts')],
      ['/var/lib/weft', d('state')],
      ['/etc/weft/token-key', d('token-key')],
      ['/run/weft-token', d('token')],
      ['/etc/weft/ca', d('cacerts')], // the root-cert.pem item of the cacerts Secret
      ['0.0.0.0', '127.0.0.1'],
    ];
    const local = (s: string) => paths.reduce((acc, [from, to]) => acc.split(from).join(to), s);
    const args = (dep.containers[0].args as string[]).map(local);
    expect(args[0]).toBe('control');
    control = await startControl([...args.slice(1), '--kubeconfig', d('kubeconfig')]);
    // it reads the custom resources through the CRDs the profile created
    const configz = await eventually(async () => {
      const text = await (await fetch(`${control!.http}/debug/configz`)).text();
      return appliedNames.every((n) => text.includes(`"${n}"`)) ? text : undefined;
    }, 10_000, `${appliedNames.join(', ')} in /debug/configz`);
    expect(appliedNames.length).toBeGreaterThan(5);
    expect(configz).toContain(appliedNames[0]);

    // the init container: mints this node's join token into the shared emptyDir
    const env = { ...process.env, PATH: `${d('bin')}:${process.env.PATH}`, NODE_NAME: 'node-a', HOST_IP: `127.0.${40 + Math.floor(Math.random() * 50)}.${2 + Math.floor(Math.random() * 200)}` };
    const init = spawnSync(ds.initContainers[0].command[0], [...ds.initContainers[0].command.slice(1, -1), local(ds.initContainers[0].command.at(-1))], { env, encoding: 'utf8', timeout: 20_000 });
    expect(init.status, init.stderr).toBe(0);
    expect(readFileSync(d('token', 'token'), 'utf8')).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+\s*$/);

    // the node proxy's start line, capture off (no CNI and no pod namespaces here)
    const line = local(ds.containers[0].command[2]).replace("'weft-control.weft-system.svc:15012'", control.secure).replace('--capture iptables', '--capture none');
    expect(line).toContain('--capture none');
    node = spawn(ds.containers[0].command[0], [ds.containers[0].command[1], line], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    node.stdout!.on('data', (b) => (logs += b));
    node.stderr!.on('data', (b) => (logs += b));
    await eventually(async () => (await fetch(`http://${env.HOST_IP}:15021/healthz/ready`)).status === 200, 20_000, `node proxy ready: ${logs}`);
    // the control plane knows it by the token's node name
    const syncz = await eventually(async () => {
      const text = await (await fetch(`${control!.http}/debug/syncz`)).text();
      return text.includes('node-a') ? text : undefined;
    }, 10_000, 'node-a in /debug/syncz');
    expect(syncz).toContain('node-a');
    expect(existsSync(d('state', 'token-key'))).toBe(true);
  }, 60_000);
});
