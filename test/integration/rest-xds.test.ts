/**
 * REST-JSON xDS for the edge host, end to end through the built bundle: `weft control` on a config
 * directory, a gateway token from `weft token create --gateway`, every type polled with fetch (401,
 * 400, 304), a YAML change giving a new version with the change in it, no Secret data anywhere, the
 * edge host's RestXdsSource delivering the set and the change; and `weft edge snapshot`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceFromJson } from '../../core/xds/rest-json.ts';
import { TYPE_URL } from '../../core/xds/type-urls.ts';
import { envoy } from '../../core/xds/pb.ts';
import { REST_XDS_TYPES, type DiscoveryResponseJson, type RestXdsType } from '../../hosts/edge/config-contract.ts';
import { RestXdsSource } from '../../hosts/edge/rest-xds-source.ts';
import { SnapshotSource } from '../../hosts/edge/snapshot-source.ts';
import { eventually, startControl, weftSync, type ControlProcess } from '../support/weft-process.ts';

const KEY_B64 = 'RURHRS1QUklWQVRFLUtFWS1NQVRFUklBTA=='; // "EDGE-PRIVATE-KEY-MATERIAL"
const CERT_B64 = 'RURHRS1DRVJUSUZJQ0FURQ=='; // "EDGE-CERTIFICATE"

const route = (prefix: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: echo, namespace: edge }
spec:
  parentRefs: [{ name: public }]
  rules: [{ matches: [{ path: { type: PathPrefix, value: ${prefix} } }], backendRefs: [{ name: echo, port: 80 }] }]
`;

const MESH = {
  'mesh.yaml': `apiVersion: v1
kind: Namespace
metadata: { name: edge, labels: { istio.io/dataplane-mode: ambient } }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: edge }
spec: { clusterIP: 10.96.7.1, selector: { app: echo }, ports: [{ name: http, port: 80, targetPort: 18080 }] }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-1, namespace: edge, labels: { app: echo, weft.io/node: n1 } }
spec: { address: 127.0.0.1, serviceAccount: echo }
---
apiVersion: v1
kind: Secret
metadata: { name: cert, namespace: edge }
type: kubernetes.io/tls
data: { tls.crt: ${CERT_B64}, tls.key: ${KEY_B64} }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: public, namespace: edge }
spec:
  gatewayClassName: weft
  listeners:
  - { name: http, port: 8080, protocol: HTTP }
  - { name: https, port: 8443, protocol: HTTPS, hostname: secure.example.com, tls: { mode: Terminate, certificateRefs: [{ name: cert }] } }
`,
  'route.yaml': route('/v1'),
};

const GATEWAY_TYPES: RestXdsType[] = ['listeners', 'routes', 'clusters', 'endpoints', 'extension_configs'];

let dir: string;
let cp: ControlProcess;
let token: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-rest-xds-it-'));
  mkdirSync(join(dir, 'config'));
  for (const [name, text] of Object.entries(MESH)) writeFileSync(join(dir, 'config', name), text);
  cp = await startControl(['--config', join(dir, 'config'), '--state', join(dir, 'state')]);
  const r = weftSync(['token', 'create', '--gateway', 'edge/public', '--state', join(dir, 'state')]);
  expect(r.status, r.stderr).toBe(0);
  token = r.stdout.trim();
});

afterAll(async () => {
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function poll(type: string, body: unknown = { node: { id: 'edge-it' } }, auth: string | null = `Bearer ${token}`): Promise<{ status: number; text: string; json?: DiscoveryResponseJson }> {
  const res = await fetch(`${cp.http}/v3/discovery:${type}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth !== null ? { authorization: auth } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, ...(res.status === 200 ? { json: JSON.parse(text) as DiscoveryResponseJson } : {}) };
}

const routePrefixes = (r: DiscoveryResponseJson) =>
  r.resources.flatMap((rc) => envoy.config.route.v3.RouteConfiguration.decode(resourceFromJson(rc).bytes).virtualHosts.flatMap((vh) => (vh.routes ?? []).map((x) => x.match?.prefix ?? x.match?.pathSeparatedPrefix ?? '')));

describe('REST-JSON xDS on weft control (built bundle)', () => {
  it('refuses no token and a bad one (401), a bad type or body (400)', async () => {
    expect((await poll('listeners', undefined, null)).status).toBe(401);
    expect((await poll('listeners', undefined, 'Bearer nope')).status).toBe(401);
    expect((await poll('listeners', undefined, token)).status).toBe(401); // not `Bearer <token>`
    const type = await poll('scoutes');
    expect(type.status).toBe(400);
    expect(type.text).toMatch(/unknown xDS type "scoutes"/);
    const body = await poll('listeners', '{"node": ');
    expect(body.status).toBe(400);
    expect(body.text).toMatch(/bad DiscoveryRequest/);
    expect((await fetch(`${cp.http}/v3/nothing`, { method: 'POST' })).status).toBe(404);
  });

  it('serves every gateway type as proto3 JSON that decodes, with 304 for the current version and no Secret data', async () => {
    const answers = await eventually(async () => {
      const all = await Promise.all(GATEWAY_TYPES.map((t) => poll(t)));
      return all.every((a) => a.status === 200) && all[0]!.json!.resources.length === 2 ? all : undefined;
    }, 10_000, 'all types answered');
    for (const [i, a] of answers.entries()) {
      const type = GATEWAY_TYPES[i]!;
      expect(a.json!.typeUrl).toBe(REST_XDS_TYPES[type]);
      for (const r of a.json!.resources) expect(resourceFromJson(r).typeUrl).toBe(REST_XDS_TYPES[type]);
      expect(a.text).not.toContain(KEY_B64);
      expect(a.text).not.toContain(CERT_B64);
      expect(a.text).not.toContain(TYPE_URL.secret);
      const again = await poll(type, { node: { id: 'edge-it' }, versionInfo: a.json!.versionInfo });
      expect(again.status, type).toBe(304);
      expect(again.text).toBe('');
    }
    expect(answers[0]!.json!.resources.map((l) => l['name']).sort()).toEqual(['0.0.0.0_8080', '0.0.0.0_8443']);
    expect(routePrefixes(answers[1]!.json!)).toContain('/v1');
    expect(answers[2]!.json!.resources.map((c) => c['name'])).toContain('outbound|80||echo.edge.svc.cluster.local');
    const status = await (await fetch(`${cp.http}/debug/status`)).text();
    expect(status).toMatch(/names the TLS Secret kubernetes:\/\/edge\/cert, served without key material/);
    expect(status).not.toContain(KEY_B64);
    const syncz = (await (await fetch(`${cp.http}/debug/syncz`)).json()) as { protocol: string; caller: { name: string }; types: Record<string, { lastPoll: string }> }[];
    const rest = syncz.find((e) => e.protocol === 'rest' && e.caller.name === 'edge/public')!;
    expect(Object.keys(rest.types).sort()).toEqual(GATEWAY_TYPES.map((t) => REST_XDS_TYPES[t]).sort());
  });

  it('gives a new version with the change after a YAML edit, and RestXdsSource delivers the set and the change', async () => {
    const sets: Partial<Record<RestXdsType, DiscoveryResponseJson>>[] = [];
    const errors: string[] = [];
    const source = new RestXdsSource({ url: cp.http, token, intervalMs: 100, onError: (e) => errors.push(e.message) });
    source.start((s) => sets.push(s));
    try {
      await eventually(() => sets.length >= 1, 10_000, 'the first set');
      const first = sets[0]!;
      expect(Object.keys(first).sort()).toEqual([...GATEWAY_TYPES].sort());
      expect(routePrefixes(first.routes!)).toContain('/v1');
      const before = (await poll('routes')).json!;

      writeFileSync(join(dir, 'config', 'route.yaml'), route('/v2'));
      const after = await eventually(async () => {
        const r = await poll('routes', { node: { id: 'edge-it' }, versionInfo: before.versionInfo });
        return r.status === 200 ? r.json : undefined;
      }, 10_000, 'a new routes version');
      expect(after.versionInfo).not.toBe(before.versionInfo);
      expect(routePrefixes(after)).toContain('/v2');
      expect(routePrefixes(after)).not.toContain('/v1');

      await eventually(() => sets.some((s) => routePrefixes(s.routes!).includes('/v2')), 10_000, 'RestXdsSource delivering the change');
      const last = sets.at(-1)!;
      expect(Object.keys(last).sort()).toEqual([...GATEWAY_TYPES].sort());
      expect(last.listeners!.versionInfo).toBe(first.listeners!.versionInfo); // only routes changed
      expect(errors).toEqual([]);
    } finally {
      source.stop();
    }
  });
});

describe('weft edge snapshot', () => {
  it('writes a valid snapshot of the embedded sample whose resources decode', () => {
    const r = weftSync(['edge', 'snapshot', '--gateway', 'demo/web']);
    expect(r.status, r.stderr).toBe(0);
    const src = new SnapshotSource(JSON.parse(r.stdout));
    expect(src.snapshot.gateway).toEqual({ namespace: 'demo', name: 'web' });
    let got: Partial<Record<RestXdsType, DiscoveryResponseJson>> = {};
    src.start((s) => (got = s));
    expect(Object.keys(got).sort()).toEqual([...GATEWAY_TYPES].sort());
    expect(got.listeners!.resources.map((l) => l['name'])).toEqual(['0.0.0.0_8081']);
    let n = 0;
    for (const [type, resp] of Object.entries(got)) {
      for (const res of resp!.resources) {
        const back = resourceFromJson(res);
        expect(back.typeUrl).toBe(REST_XDS_TYPES[type as RestXdsType]);
        expect(back.name).not.toBe('');
        n++;
      }
    }
    expect(n).toBeGreaterThanOrEqual(6);
  });

  it('reads a config directory, writes --out, and never includes Secret data', () => {
    const out = join(dir, 'snap.json');
    const r = weftSync(['edge', 'snapshot', '--gateway', 'edge/public', '--config', join(dir, 'config'), '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Warning .*served without key material/);
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain(KEY_B64);
    expect(new SnapshotSource(JSON.parse(text)).snapshot.responses.listeners!.resources).toHaveLength(2);
  });

  it('prints validation errors as weft analyze does and exits non-zero', () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'vs.yaml'), `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews }, weight: 200 }] }]
`);
    const r = weftSync(['edge', 'snapshot', '--gateway', 'default/gw', '--config', bad]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Error .*vs\.yaml:6: VirtualService default\/reviews: spec\.http\[0\]\.route\[0\]\.weight: must be 0\.\.100/);
  });
});
