/**
 * What the planners return (conventions.md 5, "decide, then do"): the host carries a plan out and
 * decides nothing itself. Deny codes are closed so logs and metrics can count them.
 */
import type { AuthzDecision } from '../policy/model.ts';
import type { NodeService, NodeWorkload } from './model.ts';

export type DenyCode =
  /** The request itself is malformed (an address that is not ip:port). */
  | 'bad-request'
  /** No workload of this node at the source address: no identity to present. */
  | 'unknown-source'
  /** The destination exists but not on this port or network. */
  | 'no-route'
  /** A service (or waypoint) without an endpoint that may take the connection. */
  | 'no-healthy-upstream'
  /** Unknown destination under outboundTrafficPolicy REGISTRY_ONLY. */
  | 'registry-only'
  /** A destination speaking a tunnel this proxy does not (Istio sidecar mTLS). */
  | 'unsupported-protocol'
  /** Inbound: no workload of this node at the destination. */
  | 'no-such-workload'
  /** Inbound: authorization policy refused it. */
  | 'authz-denied';

export interface DenyPlan {
  kind: 'deny';
  code: DenyCode;
  /** One sentence for the access log, saying what to check. */
  reason: string;
}

export interface HbonePlan {
  kind: 'hbone';
  /** Where the mTLS connection goes: the peer workload's IP on its HBONE port (15008). */
  tunnel: string;
  /** The CONNECT `:authority`: the endpoint's IP and target port, or the original address via a waypoint. */
  target: string;
  /** SPIFFE id whose certificate the source presents. */
  sourceIdentity: string;
  /** SPIFFE id the peer's certificate must carry. */
  expectedIdentity: string;
  source: NodeWorkload;
  /** The workload the tunnel reaches: the endpoint, or the waypoint's workload. */
  workload: NodeWorkload;
  /** The service the client meant (also via a waypoint): Forwarded `host=`, telemetry. */
  service?: NodeService;
  via?: { waypoint: NodeWorkload; service?: NodeService };
  /** The peer runs on this node. */
  sameNode: boolean;
}

export interface PassthroughPlan {
  kind: 'passthrough';
  /** Plain TCP to this ip:port. */
  destination: string;
  source?: NodeWorkload;
  service?: NodeService;
  workload?: NodeWorkload;
  /** Why no tunnel: the destination is not enrolled, or unknown and ALLOW_ANY lets it through. */
  why: string;
}

export type OutboundPlan = HbonePlan | PassthroughPlan | DenyPlan;

export interface OutboundRequest {
  /** The client's address (the captured connection's source IP). */
  sourceIp: string;
  /** The original destination, ip:port. */
  destination: string;
  /** When the host knows the client otherwise (SOCKS5 on a device, `weft up`). */
  sourceWorkload?: NodeWorkload;
}

export interface InboundRequest {
  sourceIp: string;
  /** The workload address asked for: the CONNECT authority (15008) or the original destination (15006). */
  destination: string;
  /** True over HBONE (15008), false for plaintext inbound (15006). */
  mtls: boolean;
  /** The peer's SPIFFE id from its certificate. */
  peerIdentity?: string;
}

export type InboundPlan =
  | { kind: 'allow'; workload: NodeWorkload; /** ip:port to dial */ target: string; decision: AuthzDecision }
  | (DenyPlan & { workload?: NodeWorkload; decision?: AuthzDecision });
