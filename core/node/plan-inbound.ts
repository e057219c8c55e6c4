/**
 * planInbound: whether a connection arriving for a workload of this node may reach it (ztunnel's
 * inbound): the workload must exist at that address and run on this node, and L4 authorization
 * (core/policy, PeerAuthentication included: plaintext when `mtls` is false) must allow it.
 */
import { authorize } from '../policy/evaluate.ts';
import type { InboundPlan, InboundRequest } from './plan-types.ts';
import { formatSocketAddress, parseSocketAddress } from './socket-address.ts';
import type { NodeState } from './state.ts';

export function planInbound(state: NodeState, req: InboundRequest): InboundPlan {
  const dst = parseSocketAddress(req.destination);
  if (!dst) return { kind: 'deny', code: 'bad-request', reason: `destination ${JSON.stringify(req.destination)} is not an ip:port` };
  const w = state.workloadByIp(dst.ip);
  if (!w) {
    return { kind: 'deny', code: 'no-such-workload', reason: `no workload at ${dst.ip} is known to this proxy (a stale address, or a pod the control plane has not reported yet?)` };
  }
  const node = state.mesh.nodeName;
  if (node && w.node !== node) {
    return { kind: 'deny', code: 'no-such-workload', workload: w, reason: `workload ${w.namespace}/${w.name} runs on node ${w.node || '(none)'}, not on this node (${node})` };
  }
  if (w.tunnel !== 'HBONE') {
    return { kind: 'deny', code: 'no-such-workload', workload: w, reason: `workload ${w.namespace}/${w.name} is not enrolled in the mesh (label its namespace istio.io/dataplane-mode=ambient)` };
  }
  const decision = authorize(state.policiesFor(w), {
    sourceIp: req.sourceIp,
    destinationIp: dst.ip,
    destinationPort: dst.port,
    mtls: req.mtls,
    ...(req.peerIdentity ? { peerIdentity: req.peerIdentity } : {}),
  });
  if (!decision.allowed) return { kind: 'deny', code: 'authz-denied', workload: w, decision, reason: decision.reason };
  return { kind: 'allow', workload: w, target: formatSocketAddress(dst.ip, dst.port), decision };
}
