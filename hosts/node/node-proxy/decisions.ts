/**
 * The small decisions the node proxy's handlers make around the planners, as pure functions so
 * unit tests can reach them (the handlers only carry them out): which local workload a SOCKS5 /
 * CONNECT client is, how a refused or failed outbound connection is told to the client, how an
 * inbound refusal is answered and logged, and which endpoint a connection counts against for the
 * balancer.
 */
import type { DenyCode, DenyPlan, NodeState, NodeWorkload, OutboundPlan } from '../../../core/node/index.ts';
import type { ResponseFlag } from '../../../core/telemetry/index.ts';
import { HboneError } from '../hbone/index.ts';
import type { RefuseReason } from '../servers/index.ts';

const LOOPBACK = /^(127\.|::1$)/;

/**
 * The client's workload for SOCKS5 / CONNECT: the local workload at its source address, or, when
 * this node hosts exactly one workload and the client is on loopback, that one (a device).
 * Undefined otherwise: planOutbound then refuses it (no identity to present).
 */
export function sourceWorkloadFor(state: NodeState, ip: string): NodeWorkload | undefined {
  const local = state.localWorkloads();
  const at = local.find((w) => w.addresses.includes(ip));
  if (at) return at;
  return LOOPBACK.test(ip) && local.length === 1 ? local[0] : undefined;
}

/** An outbound deny plan as the SOCKS5 / CONNECT client is told it. */
export function refuseReason(code: DenyCode): RefuseReason {
  return code === 'registry-only' || code === 'authz-denied' || code === 'unknown-source' ? 'not-allowed' : 'unreachable';
}

/** An outbound deny plan's access-log flag: no route (NR) or could not connect (CONNECT). */
export function outboundRefusalFlag(code: DenyCode): ResponseFlag {
  return code === 'registry-only' || code === 'no-route' ? 'NR' : 'CONNECT';
}

/** A failed upstream (HBONE or TCP) as the SOCKS5 / CONNECT client is told it. */
export function failureReason(err: Error): RefuseReason {
  if (err instanceof HboneError) {
    if (err.reason === 'timeout') return 'timeout';
    if (err.reason === 'http-status') return err.status === 401 || err.status === 403 ? 'not-allowed' : 'refused';
    if (err.reason === 'peer-refused') return 'not-allowed';
    return 'unreachable';
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ETIMEDOUT') return 'timeout';
  return code === 'ECONNREFUSED' ? 'refused' : 'unreachable';
}

/**
 * An inbound deny plan -> the CONNECT's HTTP status and the access-log flag: 401 and DENY for an
 * authorization refusal (as ztunnel), 400 and NR for a request this proxy cannot route (no such
 * workload here, a malformed authority).
 */
export function inboundRefusal(plan: Pick<DenyPlan, 'code'>): { status: number; flag: ResponseFlag } {
  return plan.code === 'authz-denied' ? { status: 401, flag: 'DENY' } : { status: 400, flag: 'NR' };
}

/** The workload on this node did not accept the connection: 503, CONNECT. */
export const INBOUND_DIAL_FAILED = { status: 503, flag: 'CONNECT' as ResponseFlag };

/**
 * The endpoint a new outbound connection counts against in the balancer (its workload uid), for
 * every plan that reaches a known workload, picked by the balancer or addressed directly (the
 * Balancer contract: the caller reports each).
 */
export function endpointKey(plan: OutboundPlan): string | undefined {
  return plan.kind === 'deny' ? undefined : plan.workload?.uid;
}
