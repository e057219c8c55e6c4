/**
 * A policy change closes the live connections it now denies (ztunnel's policy watcher and
 * connection manager): when a new NodeState arrives, every live inbound connection whose
 * destination workload's authorization inputs changed (its applicable policies, or the workload
 * itself) is planned again with the inputs it was admitted with; the ones now denied are returned
 * for the host to close. The cost follows the change, not the number of connections: a state that
 * shares its workload and policy indexes with the previous one costs two comparisons, and only the
 * connections of workloads whose inputs changed are re-evaluated.
 */
import type { CompiledPolicy } from '../policy/model.ts';
import { planInbound } from './plan-inbound.ts';
import type { InboundPlan, InboundRequest } from './plan-types.ts';
import type { NodeState } from './state.ts';

/** A live inbound connection as it was admitted: its destination workload and planInbound's request. */
export interface AdmittedConnection {
  readonly workloadUid: string;
  readonly request: InboundRequest;
}

export type RevokedPlan = Extract<InboundPlan, { kind: 'deny' }>;

/** Whether anything planInbound reads for a workload's connections can differ between the two states. */
export function authorizationMayHaveChanged(prev: NodeState, next: NodeState): boolean {
  if (prev === next) return false;
  const a = prev.indexes;
  const b = next.indexes;
  return (
    a.policies !== b.policies ||
    a.scopedPolicies !== b.scopedPolicies ||
    a.workloadsByUid !== b.workloadsByUid ||
    a.workloadsByIp !== b.workloadsByIp ||
    prev.mesh.nodeName !== next.mesh.nodeName
  );
}

/**
 * Whether workload `uid`'s authorization inputs differ: the workload object (its policy names,
 * node, tunnel, addresses) or the list of policies applying to it (compiled policies are shared
 * between states until their resource changes, so identity comparison is exact enough: a resend
 * of the same policy counts as a change and costs one re-evaluation).
 */
export function workloadAuthorizationChanged(prev: NodeState, next: NodeState, uid: string): boolean {
  const before = prev.workloadByUid(uid);
  const after = next.workloadByUid(uid);
  if (before !== after) return true;
  if (!after) return false;
  const p = prev.policiesFor(after);
  const n = next.policiesFor(after);
  return !samePolicies(p.policies, n.policies) || (p.missing ?? []).join() !== (n.missing ?? []).join();
}

function samePolicies(a: readonly CompiledPolicy[], b: readonly CompiledPolicy[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The live connections `next` denies, with the plan saying why. `live` groups connections by
 * destination workload uid (the host's tracker keeps them so); workloads whose inputs did not
 * change are skipped without looking at their connections.
 */
export function revokedConnections<T extends AdmittedConnection>(
  prev: NodeState,
  next: NodeState,
  live: ReadonlyMap<string, Iterable<T>>,
): { connection: T; plan: RevokedPlan }[] {
  const out: { connection: T; plan: RevokedPlan }[] = [];
  if (live.size === 0 || !authorizationMayHaveChanged(prev, next)) return out;
  for (const [uid, conns] of live) {
    if (!workloadAuthorizationChanged(prev, next, uid)) continue;
    for (const c of conns) {
      const plan = planInbound(next, c.request);
      if (plan.kind === 'deny') out.push({ connection: c, plan });
    }
  }
  return out;
}
