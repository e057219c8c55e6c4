/**
 * Pod enrolment (design.md 3, istio-cni's node agent part): `weft cni add` records where a pod's
 * network namespace is; the pod is captured (PodCapture: in-pod listeners, then iptables rules)
 * while the state says it is ambient (its workload is on this node with tunnel HBONE), and released
 * when that stops being true. Every state change re-checks every recorded pod, so a namespace or
 * pod label added or removed takes effect as soon as the control plane's push arrives, with no
 * restart. Reconciles never overlap: a change during one runs one more pass after it.
 */
import type { NodeState, NodeWorkload } from '../../../core/node/index.ts';
import type { CniResult } from '../cni/index.ts';
import type { PodCapture } from '../capture/index.ts';
import type { NodeProxyInputs } from './inputs.ts';

export interface EnrolledPod {
  pod: string;
  netns: string;
  captured: boolean;
  podIp?: string;
  error?: string;
}

export class Enrolment {
  readonly #pods = new Map<string, EnrolledPod>();
  #running: Promise<void> | undefined;
  #again = false;

  constructor(
    private readonly inputs: NodeProxyInputs,
    private readonly capture: PodCapture,
  ) {}

  list(): EnrolledPod[] {
    return [...this.#pods.values()];
  }

  async onAdd(pod: string, netns: string): Promise<CniResult> {
    this.#pods.set(pod, { pod, netns, captured: false });
    await this.reconcile();
    const e = this.#pods.get(pod);
    if (e?.error) throw new Error(e.error);
    return { message: e?.captured ? `captured (${e.podIp})` : 'recorded; not in the mesh (yet): captured once its workload is ambient' };
  }

  async onDel(pod: string): Promise<CniResult> {
    this.#pods.delete(pod);
    const removed = await this.capture.remove(pod);
    return { message: removed ? 'capture removed' : 'was not captured' };
  }

  /** Re-checks every recorded pod against the current state. */
  reconcile(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#pass(this.inputs.state.current);
      } while (this.#again);
    })().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #pass(state: NodeState): Promise<void> {
    for (const e of [...this.#pods.values()]) {
      const w = ambientWorkload(state, e.pod);
      const ip = w?.addresses.find((a) => !a.includes(':')) ?? w?.addresses[0];
      try {
        if (w && ip) {
          if (!e.captured || e.podIp !== ip) {
            await this.capture.add(e.pod, e.netns, ip);
            this.inputs.config.log('info', `pod ${e.pod} (${ip}) captured`);
          }
          Object.assign(e, { captured: true, podIp: ip, error: undefined });
        } else if (e.captured) {
          await this.capture.remove(e.pod);
          Object.assign(e, { captured: false, error: undefined });
          this.inputs.config.log('info', `pod ${e.pod} left the mesh: capture removed`);
        }
      } catch (err) {
        e.error = `pod ${e.pod}: ${(err as Error).message}`;
        this.inputs.config.log('warn', e.error);
      }
    }
  }
}

/** The pod's workload when it runs on this node and is ambient (tunnel HBONE). */
function ambientWorkload(state: NodeState, pod: string): NodeWorkload | undefined {
  const [ns, name] = pod.split('/');
  for (const w of state.localWorkloads()) if (w.namespace === ns && w.name === name && w.tunnel === 'HBONE') return w;
  return undefined;
}
