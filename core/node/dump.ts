/**
 * A NodeState as plain JSON for the admin `/config_dump` and `weft proxy-config workload|service|
 * policy` (Maps as objects, CIDRs as text); certificates are the host's to add.
 */
import type { CompiledPolicy } from '../policy/model.ts';
import type { NodeService, NodeWorkload } from './model.ts';
import type { NodeState } from './state.ts';

export interface NodeStateDump {
  version: number;
  mesh: NodeState['mesh'];
  workloads: Record<string, unknown>[];
  services: Record<string, unknown>[];
  policies: Record<string, unknown>[];
}

export function dumpNodeState(state: NodeState): NodeStateDump {
  const byKey = <T>(list: Iterable<T>, key: (t: T) => string): T[] => [...list].sort((a, b) => (key(a) < key(b) ? -1 : 1));
  return {
    version: state.version,
    mesh: state.mesh,
    workloads: byKey(state.workloads(), (w) => w.uid).map(workloadJson),
    services: byKey(state.services(), (s) => s.key).map(serviceJson),
    policies: byKey(state.policyList(), (p) => p.key).map(policyJson),
  };
}

export function workloadJson(w: NodeWorkload): Record<string, unknown> {
  return { ...w, services: Object.fromEntries([...w.services].map(([k, ports]) => [k, Object.fromEntries(ports)])) };
}

export function serviceJson(s: NodeService): Record<string, unknown> {
  return { ...s, ports: [...s.ports.values()] };
}

export function policyJson(p: CompiledPolicy): Record<string, unknown> {
  return JSON.parse(JSON.stringify(p, (k, v: unknown) => (k === 'address' && v instanceof Uint8Array ? undefined : v))) as Record<string, unknown>;
}
