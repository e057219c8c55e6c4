/**
 * A small mesh run through the real pipeline for node proxy tests: MeshSnapshot (mesh-fixture)
 * -> XdsTranslator -> encoded workload API -> NodeStateStore, as a node proxy would receive it.
 *
 * default/client        10.0.0.1   node-a  sa client
 * reviews  10.96.0.10:9080 -> named port http (8080): reviews-1 10.0.0.11 node-a, reviews-2 10.0.0.12 node-b (unhealthy), reviews-3 10.0.0.13 node-b
 * ratings  10.96.0.20:9080 (waypoint default/waypoint) -> ratings-1 10.0.0.21 node-b
 * waypoint 10.96.0.99:15008 -> waypoint-1 10.0.0.99 node-b sa waypoint
 * plain    10.96.0.30:80 -> plain-1 10.0.0.31 (not enrolled)
 * db       headless :5432 -> db-1 10.0.0.41 node-a
 * api.example.com (ServiceEntry, istio-system... default ns) 240.240.0.1:443, no endpoints
 */
import type { ConfigResource, MeshSnapshot } from '../../core/config/snapshot.ts';
import { NodeStateStore } from '../../core/node/store.ts';
import type { NodeMeshSettings } from '../../core/node/model.ts';
import { updatesFromResources } from '../../core/node/from-xds.ts';
import { XdsTranslator } from '../../core/xds/translate.ts';
import { buildSnapshot } from './mesh-fixture.ts';
import type { ServiceSpec } from './mesh-fixture.ts';

export const SERVICES: ServiceSpec[] = [
  {
    name: 'reviews',
    vip: '10.96.0.10',
    ports: [{ port: 9080, name: 'http', targetPort: 'http' }],
    backends: [
      { name: 'reviews-1', ip: '10.0.0.11', node: 'node-a', serviceAccount: 'reviews', namedPorts: { http: 8080 }, labels: { app: 'reviews', version: 'v1' } },
      { name: 'reviews-2', ip: '10.0.0.12', node: 'node-b', serviceAccount: 'reviews', namedPorts: { http: 8080 }, healthy: false, labels: { app: 'reviews', version: 'v2' } },
      { name: 'reviews-3', ip: '10.0.0.13', node: 'node-b', serviceAccount: 'reviews', namedPorts: { http: 8080 }, labels: { app: 'reviews', version: 'v3' } },
    ],
  },
  {
    name: 'ratings',
    vip: '10.96.0.20',
    ports: [{ port: 9080 }],
    backends: [{ name: 'ratings-1', ip: '10.0.0.21', node: 'node-b', serviceAccount: 'ratings' }],
    waypoint: { namespace: 'default', name: 'waypoint' },
  },
  { name: 'waypoint', vip: '10.96.0.99', ports: [{ port: 15008 }], backends: [{ name: 'waypoint-1', ip: '10.0.0.99', node: 'node-b', serviceAccount: 'waypoint' }] },
  { name: 'plain', vip: '10.96.0.30', ports: [{ port: 80 }], backends: [{ name: 'plain-1', ip: '10.0.0.31', node: 'node-b', tunnel: 'NONE' }] },
  { name: 'db', ports: [{ port: 5432 }], backends: [{ name: 'db-1', ip: '10.0.0.41', node: 'node-a' }] },
  { name: 'api', hostname: 'api.example.com', vip: '240.240.0.1', ports: [{ port: 443 }], source: 'ServiceEntry' },
];

export function nodeSnapshot(opts: { policies?: ConfigResource[]; peerAuthentications?: ConfigResource[]; version?: number } = {}): MeshSnapshot {
  const snap = buildSnapshot(opts.version ?? 1, SERVICES, {
    workloads: [{ name: 'client', ip: '10.0.0.1', node: 'node-a', serviceAccount: 'client', labels: { app: 'client' } }],
    ...(opts.policies ? { policies: opts.policies } : {}),
  });
  if (!opts.peerAuthentications?.length) return snap;
  return { ...snap, resources: new Map([...snap.resources, ['PeerAuthentication', opts.peerAuthentications]]) };
}

export function peerAuthentication(namespace: string, name: string, spec: unknown): ConfigResource {
  return { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace, labels: {}, annotations: {} }, spec, origin: { file: `pa/${name}.yaml`, line: 1 } };
}

/** A store fed the snapshot's translation, as the proxy of `nodeName` would hold it. */
export function nodeStore(snapshot: MeshSnapshot = nodeSnapshot(), mesh: Partial<NodeMeshSettings> = { nodeName: 'node-a' }): NodeStateStore {
  const store = new NodeStateStore(mesh);
  const { errors } = store.apply(updatesFromResources(new XdsTranslator().translate(snapshot).resources));
  if (errors.length) throw new Error(`fixture rejected: ${JSON.stringify(errors)}`);
  return store;
}
