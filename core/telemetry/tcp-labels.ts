/**
 * Istio's TCP metric label set (https://istio.io/latest/docs/reference/config/metrics/), in the
 * order and with the values ztunnel reports, so dashboards written for Istio read Weft's node proxy
 * unchanged. A host builds one `TcpLabels` per connection (never per chunk) with `tcpLabels()`;
 * a missing value is `unknown`, as Istio's.
 */

/** `source`: the proxy on the client's side reports; `destination`: the proxy on the server's side. */
export type Reporter = 'source' | 'destination';

/**
 * Envoy/ztunnel response flags: `-` none, `DENY` refused by an authorization policy (ztunnel's
 * AuthorizationPolicyDenied), `CONNECT` no upstream connection could be made (ConnectionFailure),
 * `NR` no route (REGISTRY_ONLY refusal of an unknown destination), `UT` upstream timeout.
 */
export type ResponseFlag = '-' | 'DENY' | 'CONNECT' | 'NR' | 'UT';

/**
 * `mutual_tls` when the connection was carried in Istio mTLS, `none` when it arrived or left in
 * plain text (PERMISSIVE inbound, passthrough), `unknown` where the reporter cannot tell.
 */
export type SecurityPolicy = 'mutual_tls' | 'none' | 'unknown';

export interface TcpLabels {
  reporter: Reporter;
  source_workload: string;
  source_canonical_service: string;
  source_canonical_revision: string;
  source_workload_namespace: string;
  source_principal: string;
  source_app: string;
  source_version: string;
  source_cluster: string;
  destination_service: string;
  destination_service_namespace: string;
  destination_service_name: string;
  destination_workload: string;
  destination_canonical_service: string;
  destination_canonical_revision: string;
  destination_workload_namespace: string;
  destination_principal: string;
  destination_app: string;
  destination_version: string;
  destination_cluster: string;
  request_protocol: 'tcp' | 'http' | 'grpc';
  response_flags: ResponseFlag;
  connection_security_policy: SecurityPolicy;
}

/** Label names in exposition order (ztunnel's CommonTrafficLabels order). */
export const TCP_LABEL_NAMES: readonly (keyof TcpLabels)[] = [
  'reporter',
  'source_workload',
  'source_canonical_service',
  'source_canonical_revision',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_service',
  'destination_service_namespace',
  'destination_service_name',
  'destination_workload',
  'destination_canonical_service',
  'destination_canonical_revision',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_cluster',
  'request_protocol',
  'response_flags',
  'connection_security_policy',
];

/** What the host knows about one end of a connection (from its workload state). */
export interface PeerInfo {
  /** Workload name (Deployment-like name, e.g. `productpage-v1`), not the pod name. */
  workload?: string;
  namespace?: string;
  /** SPIFFE id, `spiffe://<td>/ns/<ns>/sa/<sa>`. For a source, only an identity proven by mTLS. */
  principal?: string;
  /** `service.istio.io/canonical-name` (or the `app` label). */
  canonicalService?: string;
  /** `service.istio.io/canonical-revision` (or the `version` label). */
  canonicalRevision?: string;
  cluster?: string;
}

export interface ServiceInfo {
  /** FQDN, e.g. `reviews.default.svc.cluster.local`. */
  hostname?: string;
  name?: string;
  namespace?: string;
}

export interface TcpLabelInput {
  reporter: Reporter;
  source?: PeerInfo;
  destination?: PeerInfo;
  service?: ServiceInfo;
  securityPolicy?: SecurityPolicy;
  protocol?: TcpLabels['request_protocol'];
  responseFlags?: ResponseFlag;
}

const UNKNOWN = 'unknown';
const v = (s: string | undefined): string => (s === undefined || s === '' ? UNKNOWN : s);
const app = (p: PeerInfo): string => v(p.canonicalService || p.workload);
/** Istio's canonical revision is `latest` for a known workload without a revision label. */
const rev = (p: PeerInfo): string => v(p.canonicalRevision || (p.workload ? 'latest' : undefined));

/**
 * The label set for one connection. As ztunnel, `*_app` is the canonical service and `*_version`
 * the canonical revision (Istio's fallback when the app/version labels are absent).
 */
export function tcpLabels(input: TcpLabelInput): TcpLabels {
  const s = input.source ?? {};
  const d = input.destination ?? {};
  const svc = input.service ?? {};
  return {
    reporter: input.reporter,
    source_workload: v(s.workload),
    source_canonical_service: app(s),
    source_canonical_revision: rev(s),
    source_workload_namespace: v(s.namespace),
    source_principal: v(s.principal),
    source_app: app(s),
    source_version: rev(s),
    source_cluster: v(s.cluster),
    destination_service: v(svc.hostname),
    destination_service_namespace: v(svc.namespace),
    destination_service_name: v(svc.name),
    destination_workload: v(d.workload),
    destination_canonical_service: app(d),
    destination_canonical_revision: rev(d),
    destination_workload_namespace: v(d.namespace),
    destination_principal: v(d.principal),
    destination_app: app(d),
    destination_version: rev(d),
    destination_cluster: v(d.cluster),
    request_protocol: input.protocol ?? 'tcp',
    response_flags: input.responseFlags ?? '-',
    connection_security_policy: input.securityPolicy ?? UNKNOWN,
  };
}
