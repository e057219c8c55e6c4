/**
 * Enrolment of one pod into transparent capture (design.md 3): open its in-pod listeners (15001
 * outbound on 127.0.0.1, 15006 inbound plaintext, 15008 HBONE on the pod IP), then install its
 * capture rules; removal undoes both, rules first so no connection is redirected to a closed port.
 * The node proxy makes one PodCapture with its three connection handlers; add/remove for one pod are
 * serialized, so a CNI DEL racing an ADD (or a label toggle) never leaves half a pod behind.
 */
import type { Server, Socket } from 'node:net';
import { installCapture, removeCapture } from './iptables.ts';
import { nodeAddressTowards } from './node-address.ts';
import { openPodListeners, type PodListeners } from './pod-listeners.ts';

export type CaptureKind = 'outbound' | 'inbound' | 'hbone';

export interface CapturedPod {
  /** "namespace/name" */
  pod: string;
  netnsPath: string;
  podIp: string;
  nodeAddress: string;
  servers: Record<CaptureKind, Server>;
}

export interface PodCaptureOptions {
  /** Every accepted connection of every enrolled pod, with its kind and pod. */
  onConnection: (kind: CaptureKind, socket: Socket, pod: CapturedPod) => void;
  ports?: Partial<Record<CaptureKind, number>>;
  /** false: listeners only, no iptables rules (tests, or a CNI that installs the rules itself). */
  rules?: boolean;
  timeoutMs?: number;
}

interface Entry extends CapturedPod {
  listeners: PodListeners;
}

export class PodCapture {
  readonly #pods = new Map<string, Entry>();
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #ports: Record<CaptureKind, number>;

  constructor(private readonly opts: PodCaptureOptions) {
    this.#ports = { outbound: 15001, inbound: 15006, hbone: 15008, ...opts.ports };
  }

  /**
   * Enrolls the pod: listeners, then rules. `nodeAddress` defaults to this namespace's source address
   * towards `podIp`. Repeating it with the same netns and IP is a no-op; with others, it re-enrolls.
   */
  add(pod: string, netnsPath: string, podIp: string, nodeAddress?: string): Promise<CapturedPod> {
    return this.#serial(pod, async () => {
      const have = this.#pods.get(pod);
      if (have && have.netnsPath === netnsPath && have.podIp === podIp && (!nodeAddress || have.nodeAddress === nodeAddress)) return view(have);
      if (have) await this.#remove(have);
      const t = this.opts.timeoutMs === undefined ? {} : { timeoutMs: this.opts.timeoutMs };
      const node = nodeAddress ?? (await nodeAddressTowards(podIp, t));
      const p = this.#ports;
      const kinds = new Map<number, CaptureKind>([[p.outbound, 'outbound'], [p.inbound, 'inbound'], [p.hbone, 'hbone']]);
      // complete before the listeners exist, so a connection that arrives at once (HBONE) is served
      const entry: Entry = { pod, netnsPath, podIp, nodeAddress: node, servers: {} as Record<CaptureKind, Server>, listeners: NO_LISTENERS };
      entry.listeners = await openPodListeners(netnsPath, {
        ...t,
        ports: [{ port: p.outbound, host: '127.0.0.1' }, { port: p.inbound, host: '0.0.0.0' }, { port: p.hbone, host: podIp }],
        onConnection: (port, socket) => {
          try {
            this.opts.onConnection(kinds.get(port)!, socket, view(entry));
          } catch {
            socket.destroy(); // a handler bug costs one connection, not the node proxy
          }
        },
      });
      for (const [port, server] of entry.listeners.servers) entry.servers[kinds.get(port)!] = server;
      try {
        if (this.opts.rules !== false) await installCapture(netnsPath, { ...t, nodeAddress: node, outboundPort: p.outbound, inboundPort: p.inbound, hbonePort: p.hbone });
      } catch (err) {
        await entry.listeners.close();
        throw err;
      }
      this.#pods.set(pod, entry);
      return view(entry);
    });
  }

  /** Takes the pod out of capture: rules, then listeners. False when it was not enrolled. */
  remove(pod: string): Promise<boolean> {
    return this.#serial(pod, async () => {
      const have = this.#pods.get(pod);
      if (!have) return false;
      await this.#remove(have);
      return true;
    });
  }

  get(pod: string): CapturedPod | undefined {
    const e = this.#pods.get(pod);
    return e && view(e);
  }

  list(): CapturedPod[] {
    return [...this.#pods.values()].map(view);
  }

  /** Removes every pod (shutdown). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#pods.keys()].map((pod) => this.remove(pod)));
  }

  async #remove(e: Entry): Promise<void> {
    this.#pods.delete(e.pod);
    try {
      // the namespace may already be gone (CNI DEL after the pod died): then so are its rules
      if (this.opts.rules !== false) await removeCapture(e.netnsPath, this.opts.timeoutMs === undefined ? {} : { timeoutMs: this.opts.timeoutMs });
    } finally {
      await e.listeners.close();
    }
  }

  #serial<T>(pod: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(pod) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.#queues.set(pod, tail);
    void tail.then(() => {
      if (this.#queues.get(pod) === tail) this.#queues.delete(pod);
    });
    return next;
  }
}

const NO_LISTENERS: PodListeners = { servers: new Map(), close: async () => {} };

function view(e: Entry): CapturedPod {
  return { pod: e.pod, netnsPath: e.netnsPath, podIp: e.podIp, nodeAddress: e.nodeAddress, servers: e.servers };
}
