/**
 * The node proxy's one inputs bundle (conventions.md 10, ztunnel's ProxyInputs): configuration,
 * the state store, certificates, metrics, access log, balancer and the connection tracker. Every
 * listener and handler of the node proxy takes this bundle and nothing else, so tests and `weft up`
 * can build one with other parts (an in-memory state source, a fake CA).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { BalancerRegistry, registerBuiltinBalancers } from '../../../core/lb/index.ts';
import type { Balancer } from '../../../core/lb/index.ts';
import { NodeStateStore } from '../../../core/node/index.ts';
import type { AdmittedConnection, NodeState } from '../../../core/node/index.ts';
import { TcpMetrics } from '../../../core/telemetry/index.ts';
import type { CertificateManager } from '../certs/index.ts';
import type { PluginSet } from '../../../core/plugin/contract.ts';
import { AccessLogWriter } from '../servers/index.ts';

export type CaptureMode = 'iptables' | 'none';

export interface NodeProxyConfig {
  /** `host:port` of the control plane's TLS port (15012). */
  control: string;
  /** PEM of the mesh root (`--root-cert`). */
  rootCertPem: string;
  token: string;
  nodeName: string;
  /** Address of this proxy's own listeners (`--listen`); 15008 there serves workloads outside pods. */
  listen: string;
  /** The trust domain the control plane's certificate is in, until MeshConfig says otherwise. */
  trustDomain: string;
  capture: CaptureMode;
  /** Capture enrolled pods' DNS (UDP/TCP 53) to the DNS proxy, as Istio's `cni.ambient.dnsCapture`; default true. */
  dnsCapture?: boolean;
  /** CNI Unix socket; undefined: no CNI server (capture none without --socket). */
  socket?: string;
  ports: { admin: number; stats: number; ready: number; socks: number; dns: number; hbone: number };
  /** Access log file; default stdout. */
  accessLog?: string;
  /** Grace for draining listeners and tunnels (SIGTERM). */
  drainMs: number;
  /** Requested lifetime of workload certificates in seconds (`--cert-ttl`); default the manager's (24 h). */
  certTtlSeconds?: number;
  /**
   * How a service's endpoint is picked for a new outbound connection (`--load-balancing`): a
   * balancer type URL or alias of core/lb's registry (`round-robin`, the default, or
   * `least-connections`). Node-wide: in ambient, DestinationRule load balancer settings apply in
   * waypoints, not in ztunnel.
   */
  loadBalancing?: string;
  log: (level: 'debug' | 'info' | 'warn', message: string) => void;
}

export const DEFAULT_PORTS: NodeProxyConfig['ports'] = { admin: 15000, stats: 15020, ready: 15021, socks: 15080, dns: 15053, hbone: 15008 };

/**
 * A live inbound connection as it was admitted (its destination workload and planInbound's
 * request), so a policy change can re-evaluate it and close it when it is now denied.
 */
export interface LiveInbound extends AdmittedConnection {
  /** Resets both sides; `reason` (the deny plan's) goes to the access log. Idempotent. */
  revoke(reason: string): void;
}

/**
 * Live connections, so a drain (or a policy change) can close them: every stream of a proxied
 * connection (for the drain), and the inbound connections by destination workload uid (for
 * policy changes, core/node revokedConnections).
 */
export class ConnectionTracker {
  readonly #live = new Set<Duplex>();
  readonly #inbound = new Map<string, Set<LiveInbound>>();

  add(stream: Duplex): void {
    this.#live.add(stream);
    stream.once('close', () => this.#live.delete(stream));
  }

  /** Records an admitted inbound connection; call the returned function when it ends. */
  addInbound(c: LiveInbound): () => void {
    let set = this.#inbound.get(c.workloadUid);
    if (!set) this.#inbound.set(c.workloadUid, (set = new Set()));
    set.add(c);
    return () => {
      const s = this.#inbound.get(c.workloadUid);
      if (s?.delete(c) && s.size === 0) this.#inbound.delete(c.workloadUid);
    };
  }

  /** Live inbound connections by destination workload uid. */
  get inbound(): ReadonlyMap<string, ReadonlySet<LiveInbound>> {
    return this.#inbound;
  }

  get size(): number {
    return this.#live.size;
  }

  /** Destroys what is still open (end of a drain). */
  closeAll(): void {
    for (const s of this.#live) s.destroy();
    this.#live.clear();
  }
}

/** Emits 'state' (NodeState) after every swap, so enrolment and certificates follow the state. */
export class StateSource extends EventEmitter {
  constructor(readonly store: NodeStateStore) {
    super();
  }

  get current(): NodeState {
    return this.store.current;
  }

  changed(): void {
    this.emit('state', this.store.current);
  }
}

export interface NodeProxyInputs {
  config: NodeProxyConfig;
  state: StateSource;
  certificates: CertificateManager;
  metrics: TcpMetrics;
  accessLog: AccessLogWriter;
  balancer: Balancer;
  tracker: ConnectionTracker;
  /** Trust domains a peer may be in: the mesh's and its aliases (from MeshConfig). */
  trustDomains: () => readonly string[];
  /** l4-policy plugins (plugin-policy.ts): the snapshot in force, and a deny to count. */
  plugins?: { plugins(): PluginSet | undefined; denied(plugin: string): void };
}

export function makeInputs(config: NodeProxyConfig, certificates: CertificateManager): NodeProxyInputs & { setAliases(aliases: readonly string[]): void } {
  const store = new NodeStateStore({ nodeName: config.nodeName, trustDomain: config.trustDomain });
  const state = new StateSource(store);
  let aliases: readonly string[] = [];
  return {
    config,
    state,
    certificates,
    metrics: new TcpMetrics(),
    accessLog: new AccessLogWriter(config.accessLog ? { path: config.accessLog } : {}),
    balancer: makeBalancer(config.loadBalancing),
    tracker: new ConnectionTracker(),
    trustDomains: () => [state.current.mesh.trustDomain, ...aliases],
    setAliases: (a) => void (aliases = a),
  };
}

/** The balancer `--load-balancing` names (default round robin); throws naming the known ones. */
export function makeBalancer(name = 'round-robin'): Balancer {
  return registerBuiltinBalancers(new BalancerRegistry()).create(name);
}

/** The peer socket's IP without an IPv4-mapped prefix. */
export function plainIp(socket: Pick<Socket, 'remoteAddress'> | string | undefined): string {
  const ip = typeof socket === 'string' ? socket : (socket?.remoteAddress ?? '');
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
