/**
 * MeshSnapshot: the one immutable view of the mesh that the control plane serves (conventions.md 2).
 * The Store builds a new one per accepted change and swaps a reference; nothing mutates a snapshot.
 * Translators (core/xds), the CA's authorizer and the debug API read only this.
 *
 * This file is a contract shared by config, identity and xds: add fields freely, rename with care.
 *
 * Structural sharing: consecutive snapshots of one Store share every object a change did not reach, and
 * consumers may cache what they derive by object identity. The Store makes a new ServiceInfo whenever
 * its resource, the mesh settings, namespaces, waypoints or any workload behind its endpoints change,
 * and a new WorkloadInfo whenever its resource, that context, its services, or its endpoint ports (or
 * the ports of a service it backs) change. A snapshot built another way may share nothing.
 */
import type { ConfigIssue } from './issues.ts';

export type OutboundTrafficPolicyMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';

/** Mesh-wide settings, with Istio MeshConfig's names and defaults. */
export interface MeshSettings {
  /** `trustDomain`, default `cluster.local`. */
  trustDomain: string;
  /** `trustDomainAliases`: other trust domains accepted as this one. */
  trustDomainAliases: readonly string[];
  /** `outboundTrafficPolicy.mode`, default ALLOW_ANY. */
  outboundTrafficPolicy: OutboundTrafficPolicyMode;
  /** Cluster id used in workload uids (Istio's default `Kubernetes`). */
  clusterId: string;
  /** Network name; '' when the mesh has one network. */
  network: string;
  /** DNS suffix of service hostnames (`<svc>.<ns>.svc.<domainSuffix>`), default `cluster.local`. */
  domainSuffix: string;
  /** Where the root of trust comes from: a `cacerts` directory, or the CA in the state directory. */
  rootCa: { source: 'state' } | { source: 'cacerts'; dir: string };
  /** `rootNamespace`, default `istio-system`: policies here apply mesh-wide (Istio's rule). */
  rootNamespace: string;
  /** `extensionProviders` (AuthorizationPolicy CUSTOM providers); absent = none. */
  extensionProviders?: readonly import('./schema/mesh-config.ts').ExtensionProvider[];
}

export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ServicePortInfo {
  name: string;
  port: number;
  /** Port number on the workload, or a named container port (resolved per workload). */
  targetPort: number | string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

/** One backend of a service: a workload address and the port it serves each service port on. */
export interface EndpointInfo {
  workloadUid: string;
  address: string;
  /** service port -> workload port */
  ports: Readonly<Record<number, number>>;
  healthy: boolean;
}

export interface WaypointRef {
  /** The waypoint's Gateway (namespace/name). */
  namespace: string;
  name: string;
}

export interface ServiceInfo {
  /** Istio's workload API name: `<namespace>/<hostname>`. */
  key: string;
  name: string;
  namespace: string;
  /** `<name>.<ns>.svc.<domainSuffix>` for a Service; the host for a ServiceEntry. */
  hostname: string;
  /** Virtual IPs (clusterIP(s) or ServiceEntry addresses); may be empty (headless, DNS). */
  addresses: readonly string[];
  ports: readonly ServicePortInfo[];
  /** Label selector; absent when endpoints come from EndpointSlices or a ServiceEntry's endpoints. */
  selector?: Readonly<Record<string, string>>;
  labels: Readonly<Record<string, string>>;
  source: 'Service' | 'ServiceEntry';
  /** For ServiceEntry: MESH_INTERNAL or MESH_EXTERNAL. */
  location?: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  /** For ServiceEntry: NONE, STATIC, DNS, DNS_ROUND_ROBIN. */
  resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
  waypoint?: WaypointRef;
  endpoints: readonly EndpointInfo[];
}

export interface Locality {
  region: string;
  zone: string;
  subzone: string;
}

export interface WorkloadInfo {
  /** Istio's uid form: `<clusterId>//Pod/<ns>/<name>`, `<clusterId>/networking.istio.io/WorkloadEntry/<ns>/<name>`. */
  uid: string;
  name: string;
  namespace: string;
  kind: 'Pod' | 'WorkloadEntry';
  addresses: readonly string[];
  /** The node whose proxy serves this workload (`spec.nodeName`, or WorkloadEntry label `weft.io/node`). */
  node: string;
  serviceAccount: string;
  /** `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>` */
  identity: string;
  labels: Readonly<Record<string, string>>;
  /** `service.istio.io/canonical-name` or `app.kubernetes.io/name` or `app`, else the workload name. */
  canonicalName: string;
  canonicalRevision: string;
  /** The owning workload's name (deployment-ish), used in telemetry labels. */
  workloadName: string;
  /** HBONE when the workload is enrolled in ambient (namespace or pod label), NONE otherwise. */
  tunnelProtocol: 'HBONE' | 'NONE';
  /** Service keys (`<ns>/<hostname>`) this workload backs. */
  services: readonly string[];
  /** Named container ports, to resolve named targetPorts. */
  namedPorts: Readonly<Record<string, number>>;
  waypoint?: WaypointRef;
  healthy: boolean;
  network: string;
  clusterId: string;
  locality?: Locality;
}

/** A validated resource as the Store keeps it; `spec` is typed per kind by core/config's schemas. */
export interface ConfigResource<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels: Readonly<Record<string, string>>;
    annotations: Readonly<Record<string, string>>;
    generation?: number;
    resourceVersion?: string;
    uid?: string;
    /** Owners (a Pod's ReplicaSet...), read to name a workload as Istio does. */
    ownerReferences?: readonly { apiVersion?: string; kind: string; name: string; uid?: string; controller?: boolean }[];
  };
  spec: Spec;
  /** Other top-level data some kinds carry (Secret `data`/`type`, ConfigMap `data`, status). */
  extra?: Readonly<Record<string, unknown>>;
  /** Where it was read from, for messages. */
  origin: { file: string; line: number };
}

/** Objects taken out of and put into a list since the snapshot before (an object that changed is both). */
export interface ListChanges<T> {
  /** The list these changes apply to: the snapshot before's. */
  readonly before: readonly T[];
  readonly removed: readonly T[];
  readonly added: readonly T[];
}

/**
 * What changed since the snapshot before, so a consumer that keeps state derived from that one (the
 * xDS translator) can apply the change without comparing 10,000 workloads. Check `before` first: a
 * consumer that skipped a snapshot must compare the lists itself.
 */
export interface SnapshotChanges {
  readonly services: ListChanges<ServiceInfo>;
  readonly workloads: ListChanges<WorkloadInfo>;
}

export interface MeshSnapshot {
  /** Increases by one per accepted change; the xDS version of everything derived from it. */
  readonly version: number;
  readonly mesh: MeshSettings;
  readonly namespaces: ReadonlyMap<string, NamespaceInfo>;
  readonly services: readonly ServiceInfo[];
  readonly workloads: readonly WorkloadInfo[];
  /** Every accepted resource, by kind (e.g. `AuthorizationPolicy`), sorted by namespace/name. */
  readonly resources: ReadonlyMap<string, readonly ConfigResource[]>;
  /** Current errors and warnings: rejected resources keep their last good version in `resources`. */
  readonly issues: readonly ConfigIssue[];
  /** What changed in `services` and `workloads` since the Store's snapshot before (absent when not known). */
  readonly changes?: SnapshotChanges;
}
