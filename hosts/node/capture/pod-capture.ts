/**
 * Enrolment of one pod into transparent capture (design.md 3): open its in-pod listeners (15001
 * outbound on 127.0.0.1 and ::1, 15006 inbound plaintext on 0.0.0.0 and ::, 15008 HBONE on the pod IP,
 * and with DNS capture 15053 UDP and TCP on 127.0.0.1 and ::1), then install its capture rules for
 * IPv4 and, where the namespace has IPv6 and ip6tables runs, for IPv6; removal undoes both, rules
 * first so no connection is redirected to a closed port.
 * The node proxy makes one PodCapture with its connection handlers; add/remove for one pod are
 * serialized, so a CNI DEL racing an ADD (or a label toggle) never leaves half a pod behind.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';
import { inNetns, run } from './exec.ts';
import { installCapture, removeCapture, type IpFamily } from './iptables.ts';
import { netnsIpv6, nodeAddressTowards } from './node-address.ts';
import { openPodListeners, type PodListenerSpec, type PodListeners } from './pod-listeners.ts';

export type CaptureKind = 'outbound' | 'inbound' | 'hbone' | 'dns';

export interface CapturedPod {
  /** "namespace/name" */
  pod: string;
  netnsPath: string;
  podIp: string;
  nodeAddress: string;
  /** The IPv4 TCP servers (DNS: only with DNS capture). */
  servers: Partial<Record<CaptureKind, Server>> & Record<'outbound' | 'inbound' | 'hbone', Server>;
  /** The rule sets installed: [4] or [4, 6] (none with `rules: false`). */
  families: IpFamily[];
  /** The node's IPv6 address on the pod's link, when the pod has an IPv6 address (v6 inbound capture). */
  nodeAddress6?: string;
}

export interface PodCaptureOptions {
  /** Every accepted TCP connection of every enrolled pod, with its kind and pod ('dns': TCP DNS queries). */
  onConnection: (kind: CaptureKind, socket: Socket, pod: CapturedPod) => void;
  /** With DNS capture: each pod's in-pod UDP DNS sockets (one per family), to answer from. */
  onDnsSocket?: (socket: UdpSocket, pod: CapturedPod) => void;
  ports?: Partial<Record<CaptureKind, number>>;
  /** false: listeners only, no iptables rules (tests, or a CNI that installs the rules itself). */
  rules?: boolean;
  /** Capture the pods' DNS (UDP and TCP port 53) to the in-pod DNS listeners (default false). */
  dns?: boolean;
  /** IPv6 listeners and rules where the namespace has IPv6 (default true); false: IPv4 only. */
  ipv6?: boolean;
  timeoutMs?: number;
  log?: (level: 'debug' | 'warn', message: string) => void;
}

interface Entry extends CapturedPod {
  listeners: PodListeners;
}

export class PodCapture {
  readonly #pods = new Map<string, Entry>();
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #ports: Record<CaptureKind, number>;

  constructor(private readonly opts: PodCaptureOptions) {
    this.#ports = { outbound: 15001, inbound: 15006, hbone: 15008, dns: 15053, ...opts.ports };
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
      const v6 = this.opts.ipv6 === false ? undefined : await this.#ipv6(netnsPath, t);
      const p = this.#ports;
      const dns = this.opts.dns === true;
      const kinds = new Map<number, CaptureKind>([[p.outbound, 'outbound'], [p.inbound, 'inbound'], [p.hbone, 'hbone'], ...(dns ? [[p.dns, 'dns'] as const] : [])]);
      const specs: PodListenerSpec[] = [{ port: p.outbound, host: '127.0.0.1' }, { port: p.inbound, host: '0.0.0.0' }, { port: p.hbone, host: podIp }];
      if (dns) specs.push({ port: p.dns, host: '127.0.0.1' }, { port: p.dns, host: '127.0.0.1', proto: 'udp' });
      if (v6) {
        // REDIRECT sends v6 OUTPUT traffic to ::1 and v6 PREROUTING traffic to the incoming interface's address
        specs.push({ port: p.outbound, host: '::1' }, { port: p.inbound, host: '::', ipv6Only: true });
        if (dns) specs.push({ port: p.dns, host: '::1' }, { port: p.dns, host: '::1', proto: 'udp' });
      }
      // complete before the listeners exist, so a connection that arrives at once (HBONE) is served
      const entry: Entry = { pod, netnsPath, podIp, nodeAddress: node, servers: {} as CapturedPod['servers'], families: [], listeners: NO_LISTENERS, ...(v6?.nodeAddress ? { nodeAddress6: v6.nodeAddress } : {}) };
      entry.listeners = await openPodListeners(netnsPath, {
        ...t,
        ports: specs,
        onConnection: (port, socket) => {
          try {
            this.opts.onConnection(kinds.get(port)!, socket, view(entry));
          } catch {
            socket.destroy(); // a handler bug costs one connection, not the node proxy
          }
        },
        onDatagramSocket: (socket) => this.opts.onDnsSocket?.(socket, view(entry)),
      });
      for (const l of entry.listeners.listeners) if (l.proto === 'tcp' && !l.host.includes(':')) entry.servers[kinds.get(l.port)!] = l.handle as Server;
      try {
        if (this.opts.rules !== false) {
          const common = { ...t, outboundPort: p.outbound, inboundPort: p.inbound, hbonePort: p.hbone, ...(dns ? { dnsPort: p.dns } : {}) };
          await installCapture(netnsPath, { ...common, nodeAddress: node });
          entry.families.push(4);
          if (v6) {
            await installCapture(netnsPath, { ...common, family: 6, ...(v6.nodeAddress ? { nodeAddress: v6.nodeAddress } : {}) });
            entry.families.push(6);
          }
        }
      } catch (err) {
        await removeCapture(netnsPath, t).catch(() => {}); // the v4 set when the v6 one failed
        await entry.listeners.close();
        throw err;
      }
      this.#pods.set(pod, entry);
      return view(entry);
    });
  }

  /**
   * Whether to capture IPv6 in this namespace, and the node's v6 address on the pod's link (only when
   * the pod has a v6 address the node can route to). Undefined: the namespace has no IPv6, or
   * ip6tables cannot run there (said once in the log), so the pod is captured on IPv4 only.
   */
  async #ipv6(netnsPath: string, t: { timeoutMs?: number }): Promise<{ nodeAddress?: string } | undefined> {
    const info = await netnsIpv6(netnsPath, t).catch(() => undefined);
    if (!info?.enabled) return undefined;
    if (this.opts.rules !== false) {
      const ok = await run(...inNetns(netnsPath, 'ip6tables-save', ['-t', 'nat']), t).then((r) => r.code === 0, () => false);
      if (!ok) {
        this.opts.log?.('warn', `capture: ip6tables cannot run in ${netnsPath}; capturing IPv4 only (apt-get install iptables brings ip6tables)`);
        return undefined;
      }
    }
    for (const a of info.addresses) {
      const node = await nodeAddressTowards(a, t).catch(() => undefined);
      if (node) return { nodeAddress: node };
    }
    if (info.addresses.length) this.opts.log?.('warn', `capture: no route from the node to ${info.addresses.join(', ')} in ${netnsPath}; IPv6 outbound capture only`);
    return {};
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

const NO_LISTENERS: PodListeners = { servers: new Map(), listeners: [], close: async () => {} };

function view(e: Entry): CapturedPod {
  return { pod: e.pod, netnsPath: e.netnsPath, podIp: e.podIp, nodeAddress: e.nodeAddress, servers: e.servers, families: e.families, ...(e.nodeAddress6 ? { nodeAddress6: e.nodeAddress6 } : {}) };
}
