/**
 * Keeps the node proxy's certificates in step with its state: one certificate per identity of an
 * HBONE-enrolled workload on this node (`state.localWorkloads()`), asked for as soon as the
 * workload appears, forgotten when the last workload with that identity leaves. A rotated
 * certificate retires the HBONE server connections made with the old one (they finish their
 * streams on it; new ones get the new certificate).
 */
import type { NodeState } from '../../../core/node/index.ts';
import type { RotationEvent } from '../certs/index.ts';
import type { HboneServer } from '../hbone/index.ts';
import type { NodeProxyInputs } from './inputs.ts';

export class CertificateKeeper {
  /** Identities wanted by the last state seen. */
  #wanted = new Set<string>();

  constructor(
    private readonly inputs: NodeProxyInputs,
    servers: readonly HboneServer[],
  ) {
    inputs.certificates.on('rotated', (e: RotationEvent) => {
      if (e.previous) for (const s of servers) s.retire(e.previous);
    });
    inputs.certificates.on('failed', (e: { identity: string; error: Error; retryInMs: number }) =>
      inputs.config.log('warn', `certificate for ${e.identity}: ${e.error.message} (retry in ${Math.round(e.retryInMs)} ms)`),
    );
  }

  static identitiesOf(state: NodeState): Set<string> {
    const out = new Set<string>();
    for (const w of state.localWorkloads()) if (w.tunnel === 'HBONE') out.add(w.identity);
    return out;
  }

  reconcile(state: NodeState): void {
    const wanted = CertificateKeeper.identitiesOf(state);
    const certs = this.inputs.certificates;
    for (const id of wanted) if (!this.#wanted.has(id)) certs.get(id).catch(() => {}); // retries run in the background
    for (const id of this.#wanted) if (!wanted.has(id)) certs.forget(id);
    this.#wanted = wanted;
  }

  /** Every wanted identity holds a valid certificate. */
  complete(): boolean {
    for (const id of this.#wanted) if (!this.inputs.certificates.current(id)) return false;
    return true;
  }

  missing(): string[] {
    return [...this.#wanted].filter((id) => !this.inputs.certificates.current(id));
  }
}
