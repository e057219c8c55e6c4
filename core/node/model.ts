/**
 * The node proxy's compiled model of the workload API: what `istio.workload.Address` resources
 * become once validated (compile-address.ts), and the mesh settings the proxy needs beside them.
 * IPs are canonical text (core/net formatIp), so lookups by text and by bytes agree.
 */
import type { CompiledPolicy } from '../policy/model.ts';

export type OutboundPolicy = 'ALLOW_ANY' | 'REGISTRY_ONLY';
export type TunnelProtocol = 'NONE' | 'HBONE' | 'LEGACY_ISTIO_MTLS';
/** Lowercase, as ztunnel writes it into `k8s.<type>.name` baggage. */
export type WorkloadKind = 'deployment' | 'cronjob' | 'pod' | 'job';

/** Where a waypoint (or network gateway) is reached. */
export type GatewayTarget =
  | { readonly kind: 'address'; readonly network: string; readonly ip: string; readonly hbonePort: number }
  | { readonly kind: 'hostname'; readonly namespace: string; readonly hostname: string; readonly hbonePort: number };

export interface NodeWorkload {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly addresses: readonly string[];
  /** For a workload known by DNS name only. */
  readonly hostname: string;
  readonly network: string;
  readonly tunnel: TunnelProtocol;
  /** Resolved: '' on the wire means cluster.local (ztunnel's reading). */
  readonly trustDomain: string;
  readonly serviceAccount: string;
  /** `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`. */
  readonly identity: string;
  readonly node: string;
  readonly canonicalName: string;
  readonly canonicalRevision: string;
  readonly kind: WorkloadKind;
  readonly workloadName: string;
  readonly clusterId: string;
  readonly healthy: boolean;
  readonly waypoint?: GatewayTarget;
  readonly networkGateway?: GatewayTarget;
  /** Service key (`<ns>/<hostname>`) -> service port -> target port on this workload. */
  readonly services: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** Selector policies (and PeerAuthentication-derived ones) that apply to it, `<ns>/<name>`. */
  readonly authorizationPolicies: readonly string[];
  readonly locality?: { readonly region: string; readonly zone: string; readonly subzone: string };
}

export interface NodeServicePort {
  readonly servicePort: number;
  /** 0: a named port, resolved per endpoint (Workload.services). */
  readonly targetPort: number;
  readonly appProtocol: 'UNKNOWN' | 'HTTP11' | 'HTTP2' | 'GRPC' | 'TCP' | 'TLS';
}

export interface NodeVip {
  readonly network: string;
  readonly ip: string;
  /** Prefix length: a full-length host address, or a ServiceEntry address range. */
  readonly length: number;
}

export interface NodeService {
  /** `<namespace>/<hostname>`. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  readonly vips: readonly NodeVip[];
  readonly ports: ReadonlyMap<number, NodeServicePort>;
  readonly subjectAltNames: readonly string[];
  readonly waypoint?: GatewayTarget;
  /** ALLOW_ALL: unhealthy endpoints may be picked too. */
  readonly allowUnhealthy: boolean;
  /** NAMESPACE: visible (DNS) only to clients of its own namespace. */
  readonly visibility: 'PUBLIC' | 'NAMESPACE';
}

/** One backend of a service: the workload and its port per service port. */
export interface NodeEndpoint {
  readonly workload: NodeWorkload;
  readonly ports: ReadonlyMap<number, number>;
}

/** Mesh-wide settings and this proxy's own place in the mesh. */
export interface NodeMeshSettings {
  /** Unknown destinations: passed through (ALLOW_ANY, the default) or refused (REGISTRY_ONLY). */
  readonly outboundPolicy: OutboundPolicy;
  /** The mesh trust domain (default cluster.local). */
  readonly trustDomain: string;
  /** Service DNS suffix (default cluster.local): `<svc>.<ns>.svc.<suffix>`. */
  readonly domainSuffix: string;
  /** This proxy's node name (`--node-name`); '' skips the "runs on this node" checks. */
  readonly nodeName: string;
  /** The network this node is on ('' for a single-network mesh). */
  readonly network: string;
  /** Cluster name for baggage (Istio's default `Kubernetes`). */
  readonly clusterId: string;
}

export const DEFAULT_NODE_MESH: NodeMeshSettings = Object.freeze({
  outboundPolicy: 'ALLOW_ANY',
  trustDomain: 'cluster.local',
  domainSuffix: 'cluster.local',
  nodeName: '',
  network: '',
  clusterId: 'Kubernetes',
});

/** What a proxy holds under a resource name (delta xDS names: uid, `<ns>/<hostname>`, `<ns>/<name>`). */
export type HeldResource = { kind: 'workload'; value: NodeWorkload } | { kind: 'service'; value: NodeService } | { kind: 'policy'; value: CompiledPolicy };
