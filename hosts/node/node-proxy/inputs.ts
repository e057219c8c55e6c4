/**
 * The node proxy's one inputs bundle (conventions.md 10, ztunnel's ProxyInputs): configuration,
 * the state store, certificates, metrics, access log, balancer and the connection tracker. Every
 * listener and handler of the node proxy takes this bundle and nothing else, so tests and `weft up`
 * can build one with other parts (an in-memory state source, a fake CA).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { RoundRobinBalancer } from '../../../core/lb/index.ts';
import type { Balancer } from '../../../core/lb/index.ts';
import { NodeStateStore } from '../../../core/node/index.ts';
import type { NodeState } from '../../../core/node/index.ts';
import { TcpMetrics } from '../../../core/telemetry/index.ts';
import type { CertificateManager } from '../certs/index.ts';
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
  /** CNI Unix socket; undefined: no CNI server (capture none without --socket). */
  socket?: string;
  ports: { admin: number; stats: number; ready: number; socks: number; dns: number; hbone: number };
  /** Access log file; default stdout. */
  accessLog?: string;
  /** Grace for draining listeners and tunnels (SIGTERM). */
  drainMs: number;
  /** Requested lifetime of workload certificates in seconds (`--cert-ttl`); default the manager's (24 h). */
  certTtlSeconds?: number;
  log: (level: 'debug' | 'info' | 'warn', message: string) => void;
}

export const DEFAULT_PORTS: NodeProxyConfig['ports'] = { admin: 15000, stats: 15020, ready: 15021, socks: 15080, dns: 15053, hbone: 15008 };

/**
 * Live connections, so a drain (or a policy change) can close them: each entry is the pair of
 * streams of one proxied connection.
 */
export class ConnectionTracker {
  readonly #live = new Set<Duplex>();

  add(stream: Duplex): void {
    this.#live.add(stream);
    stream.once('close', () => this.#live.delete(stream));
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
    balancer: new RoundRobinBalancer(),
    tracker: new ConnectionTracker(),
    trustDomains: () => [state.current.mesh.trustDomain, ...aliases],
    setAliases: (a) => void (aliases = a),
  };
}

/** The peer socket's IP without an IPv4-mapped prefix. */
export function plainIp(socket: Pick<Socket, 'remoteAddress'> | string | undefined): string {
  const ip = typeof socket === 'string' ? socket : (socket?.remoteAddress ?? '');
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}
