/**
 * A policy change closes the live connections it now denies, as ztunnel does: on every new
 * NodeState, core/node's revokedConnections re-plans the live inbound connections (HBONE and
 * plaintext 15006) of the workloads whose authorization inputs changed, with the inputs each was
 * admitted with, and each one now denied is reset. Its access-log line carries the DENY flag and
 * the reason, and istio_tcp_connections_closed_total counts it under response_flags="DENY".
 * A state that leaves workloads and policies alone costs a few comparisons.
 */
import type { NodeState } from '../../../core/node/index.ts';
import { revokedConnections } from '../../../core/node/index.ts';
import type { NodeProxyInputs } from './inputs.ts';

export class PolicyEnforcer {
  #last: NodeState;
  /** Connections closed by policy changes since start. */
  closed = 0;

  constructor(private readonly inputs: NodeProxyInputs) {
    this.#last = inputs.state.current;
    this.onState = this.onState.bind(this);
    inputs.state.on('state', this.onState);
  }

  /** Compares with the last state seen; returns how many connections it closed. */
  onState(next: NodeState = this.inputs.state.current): number {
    const prev = this.#last;
    this.#last = next;
    const revoked = revokedConnections(prev, next, this.inputs.tracker.inbound);
    for (const { connection, plan } of revoked) connection.revoke(plan.reason);
    if (revoked.length) {
      this.closed += revoked.length;
      const first = revoked[0]!.plan.reason;
      this.inputs.config.log('info', `policy change (state ${next.version}): closed ${revoked.length} connection(s) now denied (${first}${revoked.length > 1 ? '; ...' : ''})`);
    }
    return revoked.length;
  }

  close(): void {
    this.inputs.state.off('state', this.onState);
  }
}
