/**
 * Hand-built MeshSnapshots for xDS tests, independent of core/config's Store: services with their
 * backends (workloads and endpoints made consistent), AuthorizationPolicies, mesh settings.
 */
import type { ConfigResource, EndpointInfo, MeshSettings, MeshSnapshot, ServiceInfo, ServicePortInfo, WorkloadInfo } from '../../core/config/snapshot.ts';

export interface BackendSpec {
  name: string;
  ip: string;
  namespace?: string;
  node?: string;
  serviceAccount?: string;
  labels?: Record<string, string>;
  healthy?: boolean;
  locality?: { region: string; zone: string; subzone: string };
  /** Workload port per service port, when it differs from the service's targetPort. */
  ports?: Record<number, number>;
  namedPorts?: Record<string, number>;
  tunnel?: 'HBONE' | 'NONE';
}

export interface ServiceSpec {
  name: string;
  namespace?: string;
  ports: (Partial<ServicePortInfo> & { port: number })[];
  vip?: string;
  backends?: BackendSpec[];
  waypoint?: { namespace: string; name: string };
  source?: 'Service' | 'ServiceEntry';
  hostname?: string;
}

export function meshSettings(over: Partial<MeshSettings> = {}): MeshSettings {
  return {
    trustDomain: 'cluster.local',
    trustDomainAliases: [],
    outboundTrafficPolicy: 'ALLOW_ANY',
    clusterId: 'Kubernetes',
    network: '',
    domainSuffix: 'cluster.local',
    rootCa: { source: 'state' },
    rootNamespace: 'istio-system',
    ...over,
  };
}

export function workloadOf(b: BackendSpec, mesh: MeshSettings): WorkloadInfo {
  const ns = b.namespace ?? 'default';
  const sa = b.serviceAccount ?? 'default';
  const w: WorkloadInfo = {
    uid: `${mesh.clusterId}//Pod/${ns}/${b.name}`,
    name: b.name,
    namespace: ns,
    kind: 'Pod',
    addresses: [b.ip],
    node: b.node ?? 'node-a',
    serviceAccount: sa,
    identity: `spiffe://${mesh.trustDomain}/ns/${ns}/sa/${sa}`,
    labels: b.labels ?? { app: b.name },
    canonicalName: b.labels?.app ?? b.name,
    canonicalRevision: 'latest',
    workloadName: b.name,
    tunnelProtocol: b.tunnel ?? 'HBONE',
    services: [],
    namedPorts: b.namedPorts ?? {},
    healthy: b.healthy ?? true,
    network: mesh.network,
    clusterId: mesh.clusterId,
  };
  if (b.locality) w.locality = b.locality;
  return w;
}

/** Builds a snapshot; a backend named in several services becomes one workload. */
export function buildSnapshot(
  version: number,
  services: readonly ServiceSpec[],
  opts: { policies?: ConfigResource[]; mesh?: Partial<MeshSettings>; workloads?: BackendSpec[] } = {},
): MeshSnapshot {
  const mesh = meshSettings(opts.mesh);
  const workloads = new Map<string, WorkloadInfo>();
  const serviceKeys = new Map<string, string[]>();
  const addWorkload = (b: BackendSpec): WorkloadInfo => {
    const w = workloads.get(`${b.namespace ?? 'default'}/${b.name}`) ?? workloadOf(b, mesh);
    workloads.set(`${w.namespace}/${w.name}`, w);
    return w;
  };
  for (const b of opts.workloads ?? []) addWorkload(b);
  const out: ServiceInfo[] = services.map((s) => {
    const namespace = s.namespace ?? 'default';
    const hostname = s.hostname ?? `${s.name}.${namespace}.svc.${mesh.domainSuffix}`;
    const key = `${namespace}/${hostname}`;
    const ports: ServicePortInfo[] = s.ports.map((p) => ({ name: p.name ?? `tcp-${p.port}`, port: p.port, targetPort: p.targetPort ?? p.port, protocol: p.protocol ?? 'TCP', ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) }));
    const endpoints: EndpointInfo[] = (s.backends ?? []).map((b) => {
      const w = addWorkload(b);
      serviceKeys.set(w.uid, [...(serviceKeys.get(w.uid) ?? []), key]);
      const map: Record<number, number> = {};
      for (const p of ports) {
        const t = b.ports?.[p.port] ?? (typeof p.targetPort === 'number' ? p.targetPort : w.namedPorts[p.targetPort]);
        if (t !== undefined) map[p.port] = t;
      }
      return { workloadUid: w.uid, address: b.ip, ports: map, healthy: b.healthy ?? true };
    });
    const svc: ServiceInfo = {
      key,
      name: s.name,
      namespace,
      hostname,
      addresses: s.vip ? [s.vip] : [],
      ports,
      selector: { app: s.name },
      labels: {},
      source: s.source ?? 'Service',
      endpoints,
    };
    if (s.waypoint) svc.waypoint = s.waypoint;
    return svc;
  });
  const finalWorkloads = [...workloads.values()].map((w) => ({ ...w, services: serviceKeys.get(w.uid) ?? [] }));
  const resources = new Map<string, ConfigResource[]>();
  if (opts.policies?.length) resources.set('AuthorizationPolicy', opts.policies);
  return {
    version,
    mesh,
    namespaces: new Map([['default', { name: 'default', labels: {} }]]),
    services: out,
    workloads: finalWorkloads,
    resources,
    issues: [],
  };
}

export function authorizationPolicy(namespace: string, name: string, spec: unknown): ConfigResource {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace, labels: {}, annotations: {} },
    spec,
    origin: { file: `policies/${name}.yaml`, line: 1 },
  };
}
