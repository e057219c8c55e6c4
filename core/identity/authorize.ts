/**
 * Who may get a certificate for which identity (design.md 5). A node proxy may get certificates
 * only for identities of workloads its node hosts, naming the identity in the request metadata
 * `ImpersonatedIdentity` as ztunnel does. A gateway or waypoint may get only its own service
 * account's identity: `ns/<namespace>/sa/<name>` (Istio's waypoints run as a service account named
 * after their Gateway), unless its Gateway (gateway.networking.k8s.io) carries the annotation
 * `weft.io/service-account`. Pure over the snapshot, so it is tested without a CA.
 */
import type { MeshSnapshot } from '../config/snapshot.ts';
import { formatWorkloadIdentity, parseWorkloadIdentity, sameWorkloadIdentity, type WorkloadIdentity } from './spiffe.ts';

export type Caller = { kind: 'node'; node: string } | { kind: 'gateway' | 'waypoint'; namespace: string; name: string };

export const SERVICE_ACCOUNT_ANNOTATION = 'weft.io/service-account';

export type AuthzSnapshot = Pick<MeshSnapshot, 'mesh' | 'workloads' | 'resources'>;

export type AuthzDecision = { ok: true } | { ok: false; message: string };

/** `node/NAME`, `gateway/NS/NAME`, `waypoint/NS/NAME`: the token subject and the name in logs. */
export function describeCaller(c: Caller): string {
  return c.kind === 'node' ? `node/${c.node}` : `${c.kind}/${c.namespace}/${c.name}`;
}

export function trustDomainsOf(snapshot: Pick<MeshSnapshot, 'mesh'>): string[] {
  return [snapshot.mesh.trustDomain, ...snapshot.mesh.trustDomainAliases];
}

/** The one identity a gateway or waypoint may hold. */
export function gatewayIdentity(snapshot: AuthzSnapshot, caller: { namespace: string; name: string }): WorkloadIdentity {
  const gw = (snapshot.resources.get('Gateway') ?? []).find(
    (r) => r.apiVersion.startsWith('gateway.networking.k8s.io/') && r.metadata.namespace === caller.namespace && r.metadata.name === caller.name,
  );
  const sa = gw?.metadata.annotations[SERVICE_ACCOUNT_ANNOTATION] || caller.name;
  return { trustDomain: snapshot.mesh.trustDomain, namespace: caller.namespace, serviceAccount: sa };
}

export interface CsrAuthzRequest {
  caller: Caller;
  /** The identity the CSR's SAN names (already checked by checkWorkloadCsr). */
  requested: WorkloadIdentity;
  /** The request metadata's `ImpersonatedIdentity`, when present. */
  impersonated?: string;
}

export function authorizeCsr(snapshot: AuthzSnapshot, req: CsrAuthzRequest): AuthzDecision {
  const tds = trustDomainsOf(snapshot);
  const who = describeCaller(req.caller);
  const asked = formatWorkloadIdentity(req.requested);
  let impersonated: WorkloadIdentity | undefined;
  if (req.impersonated !== undefined) {
    const p = parseWorkloadIdentity(req.impersonated);
    if (!p.ok) return { ok: false, message: `ImpersonatedIdentity: ${p.message}` };
    impersonated = p.value;
    if (!sameWorkloadIdentity(impersonated, req.requested, tds)) {
      return { ok: false, message: `the CSR asks for ${asked} but ImpersonatedIdentity is ${req.impersonated}; they must be the same` };
    }
  }
  if (req.caller.kind !== 'node') {
    const own = gatewayIdentity(snapshot, req.caller);
    if (sameWorkloadIdentity(own, req.requested, tds)) return { ok: true };
    return { ok: false, message: `${who} may get certificates only for its own service account's identity ${formatWorkloadIdentity(own)}, not ${asked}` };
  }
  if (!impersonated) {
    return { ok: false, message: `${who}: a node proxy must name the workload identity it asks for in the request metadata ImpersonatedIdentity` };
  }
  const node = req.caller.node;
  const holders = snapshot.workloads.filter((w) => w.namespace === req.requested.namespace && w.serviceAccount === req.requested.serviceAccount);
  if (holders.some((w) => w.node === node)) return { ok: true };
  if (holders.length === 0) return { ok: false, message: `${who}: no workload in the mesh has identity ${asked}` };
  const nodes = [...new Set(holders.map((w) => w.node || '(no node)'))].sort();
  const shown = nodes.slice(0, 3).join(', ') + (nodes.length > 3 ? `, and ${nodes.length - 3} more` : '');
  return { ok: false, message: `${who} hosts no workload with identity ${asked} (its workloads run on ${shown}); a node proxy gets certificates only for its own node's workloads` };
}
