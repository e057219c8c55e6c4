/**
 * Passthrough from the pod's own network namespace (ztunnel's in-pod model, design.md 3): a captured
 * connection to a destination outside the mesh is dialled with a socket created inside the pod's
 * namespace, so the destination sees the pod's IP, as it would without a mesh. The socket carries the
 * proxy's mark (0x539), which the pod's capture rules exempt, so it is not redirected back to 15001.
 *
 * The namespace file is opened once per enrolment, at the pod's first passthrough, and closed when the
 * pod's outbound listener closes (the pod left the mesh, CNI DEL, shutdown): the listener's lifetime
 * is the enrolment's, with no hook into enrolment needed. Per connection: one setns pair and one
 * socket() (~10 us), no process.
 *
 * Any failure (the addon lacks the functions, EPERM, a namespace file gone) returns undefined and the
 * caller dials from the node's namespace as before; it is logged as a warning once per pod and reason,
 * then at debug level, so a broken setup does not flood the log.
 */
import type { Server } from 'node:net';
import { PROXY_MARK } from './iptables.ts';
import { closeNetns, openNetns, socketInNetns } from './original-dst.ts';

/** The mark the pod's OUTPUT rule returns on (`-m mark --mark 0x539/0xfff -j RETURN`). */
export const PASSTHROUGH_MARK = Number(PROXY_MARK.split('/')[0]);

/** What a captured pod offers (PodCapture's CapturedPod fits). */
export interface PodNetnsRef {
  pod: string;
  netnsPath: string;
  servers?: { outbound?: Server };
}

type Log = (level: 'warn' | 'debug', message: string) => void;

export class PodNetnsSockets {
  /** The namespace descriptor per enrolment, keyed by the pod's outbound listener. */
  readonly #held = new Map<Server, number>();
  readonly #warned = new Set<string>();

  constructor(private readonly log: Log = () => {}) {}

  /**
   * A new unconnected TCP socket (descriptor) made in the pod's namespace and marked, for
   * `new net.Socket({ fd }).connect()`; undefined when it cannot be made (logged): dial from the node.
   */
  socket(pod: PodNetnsRef, family: 4 | 6): number | undefined {
    let once: number | undefined;
    try {
      const server = pod.servers?.outbound;
      let ns = server && this.#held.get(server);
      if (ns === undefined) {
        ns = openNetns(pod.netnsPath);
        // a listener already closed (a connection accepted just before the pod left) never emits
        // 'close' again: use the descriptor for this socket only
        if (server?.listening) this.#hold(server, ns);
        else once = ns;
      }
      return socketInNetns(ns, family, PASSTHROUGH_MARK);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const key = `${pod.pod}\0${err.code ?? err.message}`;
      const message = `pod ${pod.pod}: passthrough dialled from the node's namespace (the destination sees the node's address), not the pod's ${pod.netnsPath}: ${err.message}`;
      if (this.#warned.has(key)) this.log('debug', message);
      else {
        this.#warned.add(key);
        this.log('warn', message);
      }
      return undefined;
    } finally {
      if (once !== undefined) closeNetns(once);
    }
  }

  /** Enrolments holding a namespace descriptor now (diagnostics, tests). */
  get held(): number {
    return this.#held.size;
  }

  /** Closes every descriptor held (the listeners' 'close' does it one by one otherwise). */
  close(): void {
    for (const [server, ns] of this.#held) this.#release(server, ns);
  }

  #hold(server: Server, ns: number): void {
    this.#held.set(server, ns);
    server.once('close', () => this.#release(server, ns));
  }

  #release(server: Server, ns: number): void {
    if (this.#held.get(server) !== ns) return;
    this.#held.delete(server);
    try {
      closeNetns(ns);
    } catch {
      // already closed: nothing left to release
    }
  }
}
