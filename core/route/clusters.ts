/**
 * Cluster + ClusterLoadAssignment (decoded static protobuf objects) -> the upstream model the L7
 * engine dials from: endpoints (address, port, weight, health, HBONE or plain, identity, Istio
 * workload metadata), a balancer for the lb_policy (core/lb), circuit breaker limits, an outlier
 * detector, HTTP/2 or not, connect timeout, upstream TLS SNI. The README's "Cluster and
 * ClusterLoadAssignment" section is the contract.
 *
 * A compiled cluster is immutable config plus the balancer and outlier detector, which carry
 * state (cursors, active requests, ejections); recompiling with `previous` keeps that state when the
 * lb policy is unchanged, so an EDS push does not reset round robin or forgive outliers.
 * `pick(hash)` is the hot path: the eligible list (healthy, not ejected, best priority with any) is
 * rebuilt only when health changes, so hash balancers keep their ring or table.
 */
import { LeastRequestBalancer } from '../lb/least-request-lb.ts';
import { MaglevBalancer } from '../lb/maglev-lb.ts';
import { OutlierDetector } from '../lb/outlier.ts';
import type { OutlierConfig } from '../lb/outlier.ts';
import { RandomBalancer } from '../lb/random-lb.ts';
import { RingHashBalancer } from '../lb/ring-hash-lb.ts';
import type { Balancer, LbEndpoint } from '../lb/types.ts';
import { WeightedRoundRobinBalancer } from '../lb/weighted-round-robin-lb.ts';
import type { envoy, google } from '../xds/generated/xds-pb.js';
import { envoy as pb } from '../xds/pb.ts';
import { durationMs, set, structField, structStrings, wrapped } from './proto.ts';
import { RouteCompileError } from './types.ts';

type ClusterProto = envoy.config.cluster.v3.Cluster.$Properties;
type AssignmentProto = envoy.config.endpoint.v3.ClusterLoadAssignment.$Properties;

const LbPolicy = { ROUND_ROBIN: 0, LEAST_REQUEST: 1, RING_HASH: 2, RANDOM: 3, MAGLEV: 5 } as const;
const Discovery = { STATIC: 0, STRICT_DNS: 1, LOGICAL_DNS: 2, EDS: 3, ORIGINAL_DST: 4 } as const;
/** HealthStatus values a balancer may pick: UNKNOWN, HEALTHY, DEGRADED. */
const PICKABLE = new Set([0, 1, 5]);

export type LbPolicyName = 'round-robin' | 'least-request' | 'ring-hash' | 'random' | 'maglev';
export type Tunnel = 'HBONE' | 'NONE';

/** Istio's `istio` metadata `workload`: `<name>;<namespace>;<canonical name>;<revision>;<cluster>`. */
export interface IstioWorkload {
  readonly name: string;
  readonly namespace: string;
  readonly canonicalName: string;
  readonly revision: string;
  readonly cluster: string;
}

export interface UpstreamEndpoint extends LbEndpoint {
  /** `<address>:<port>`: what balancers and the outlier detector count by. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  /** HealthStatus is UNKNOWN, HEALTHY or DEGRADED. */
  readonly healthy: boolean;
  readonly healthStatus: number;
  readonly priority: number;
  readonly locality: { readonly region: string; readonly zone: string; readonly subZone: string } | undefined;
  /** HBONE: CONNECT to `<address>:15008` with `:authority` `<address>:<port>`, expecting `identity`. */
  readonly tunnel: Tunnel;
  readonly identity: string | undefined;
  readonly workload: IstioWorkload | undefined;
  readonly labels: Readonly<Record<string, string>>;
}

export interface CircuitBreakerLimits {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
}

/** Envoy's defaults for an absent threshold. */
export const DEFAULT_LIMITS: CircuitBreakerLimits = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };

export type UpstreamProtocol = 'http1' | 'h2' | 'downstream' | 'auto';

export interface UpstreamTls {
  readonly sni: string;
  readonly alpn: readonly string[];
}

export interface ClusterCompileOptions {
  /** Random source for random / least-request balancers and outlier enforcement. */
  random?: () => number;
  /** The same cluster's previous compilation: its balancer and outlier state carry over. */
  previous?: UpstreamCluster;
}

export class UpstreamCluster {
  #eligible: readonly UpstreamEndpoint[] = [];

  constructor(
    readonly name: string,
    readonly discovery: 'static' | 'strict-dns' | 'logical-dns' | 'eds' | 'original-dst',
    readonly lbPolicy: LbPolicyName,
    readonly balancer: Balancer,
    readonly endpoints: readonly UpstreamEndpoint[],
    readonly connectTimeoutMs: number,
    readonly limits: CircuitBreakerLimits,
    readonly outlier: OutlierDetector | undefined,
    readonly protocol: UpstreamProtocol,
    readonly tls: UpstreamTls | undefined,
    /** Below this percentage of pickable endpoints, pick among all (Envoy's panic mode); 0 disables. */
    readonly panicThreshold: number,
  ) {
    if (outlier) {
      outlier.setHosts(endpoints.map((e) => e.key));
      outlier.onChange = () => this.#refresh();
    }
    this.#refresh();
  }

  /** Whether requests go to the upstream over HTTP/2 (`downstream`: as the client spoke). */
  get http2(): boolean {
    return this.protocol === 'h2';
  }

  /** The endpoints a pick chooses among now. */
  get eligible(): readonly UpstreamEndpoint[] {
    return this.#eligible;
  }

  /** One endpoint for a request (`hash` from the route's hash policy), or undefined: no healthy upstream (503). */
  pick(hash?: number): UpstreamEndpoint | undefined {
    const list = this.#eligible;
    if (list.length === 0) return undefined;
    return this.balancer.pick(this.name, list, hash === undefined ? undefined : { hash });
  }

  #refresh(): void {
    const o = this.outlier;
    const all = this.endpoints;
    let best = Infinity;
    for (const e of all) if (e.healthy && !o?.isEjected(e.key) && e.priority < best) best = e.priority;
    const list = all.filter((e) => e.priority === best && e.healthy && !o?.isEjected(e.key));
    const level = all.filter((e) => e.priority === (best === Infinity ? minPriority(all) : best));
    // Panic: too few pickable endpoints at the level; Envoy then balances over all of them.
    if (this.panicThreshold > 0 && level.length > 0 && (100 * list.length) / level.length < this.panicThreshold) {
      this.#eligible = level.map((e) => (e.healthy ? e : { ...e, healthy: true }));
    } else this.#eligible = list;
  }
}

function minPriority(all: readonly UpstreamEndpoint[]): number {
  let m = Infinity;
  for (const e of all) if (e.priority < m) m = e.priority;
  return m;
}

function lbName(policy: number, path: string): LbPolicyName {
  switch (policy) {
    case LbPolicy.ROUND_ROBIN:
      return 'round-robin';
    case LbPolicy.LEAST_REQUEST:
      return 'least-request';
    case LbPolicy.RING_HASH:
      return 'ring-hash';
    case LbPolicy.RANDOM:
      return 'random';
    case LbPolicy.MAGLEV:
      return 'maglev';
    default:
      throw new RouteCompileError(`${path}.lb_policy`, `lb_policy ${policy} is not supported (ROUND_ROBIN, LEAST_REQUEST, RING_HASH, RANDOM, MAGLEV are)`);
  }
}

function makeBalancer(name: LbPolicyName, c: ClusterProto, random: () => number): Balancer {
  switch (name) {
    case 'round-robin':
      return new WeightedRoundRobinBalancer();
    case 'least-request':
      return new LeastRequestBalancer(random);
    case 'random':
      return new RandomBalancer(random);
    case 'ring-hash':
      return new RingHashBalancer({
        minRingSize: Number(wrapped(c.ringHashLbConfig?.minimumRingSize, 1024)),
        maxRingSize: Number(wrapped(c.ringHashLbConfig?.maximumRingSize, 8 * 1024 * 1024)),
      });
    case 'maglev':
      return new MaglevBalancer(Number(wrapped(c.maglevLbConfig?.tableSize, 65537)));
  }
}

function discoveryName(t: number | null | undefined): UpstreamCluster['discovery'] {
  switch (t ?? Discovery.STATIC) {
    case Discovery.STRICT_DNS:
      return 'strict-dns';
    case Discovery.LOGICAL_DNS:
      return 'logical-dns';
    case Discovery.EDS:
      return 'eds';
    case Discovery.ORIGINAL_DST:
      return 'original-dst';
    default:
      return 'static';
  }
}

function outlierConfig(o: envoy.config.cluster.v3.OutlierDetection.$Properties): Partial<OutlierConfig> {
  const out: Partial<OutlierConfig> = {};
  if (set(o.consecutive_5xx)) out.consecutive5xx = o.consecutive_5xx.value ?? 0;
  if (set(o.consecutiveGatewayFailure)) out.consecutiveGatewayFailure = o.consecutiveGatewayFailure.value ?? 0;
  if (set(o.interval)) out.intervalMs = durationMs(o.interval, 10_000);
  if (set(o.baseEjectionTime)) out.baseEjectionMs = durationMs(o.baseEjectionTime, 30_000);
  if (set(o.maxEjectionTime)) out.maxEjectionMs = durationMs(o.maxEjectionTime, 300_000);
  if (set(o.maxEjectionPercent)) out.maxEjectionPercent = o.maxEjectionPercent.value ?? 0;
  if (set(o.enforcingConsecutive_5xx)) out.enforcingConsecutive5xx = o.enforcingConsecutive_5xx.value ?? 0;
  if (set(o.enforcingConsecutiveGatewayFailure)) out.enforcingConsecutiveGatewayFailure = o.enforcingConsecutiveGatewayFailure.value ?? 0;
  return out;
}

const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

function protocolOf(c: ClusterProto, path: string): UpstreamProtocol {
  const any = c.typedExtensionProtocolOptions?.[HTTP_OPTIONS];
  if (any) {
    let o: envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
    try {
      o = pb.extensions.upstreams.http.v3.HttpProtocolOptions.decode(any.value ?? new Uint8Array(0));
    } catch (e) {
      throw new RouteCompileError(`${path}.typed_extension_protocol_options`, `cannot decode HttpProtocolOptions: ${(e as Error).message}`);
    }
    if (set(o.explicitHttpConfig)) return set(o.explicitHttpConfig.http2ProtocolOptions) ? 'h2' : 'http1';
    if (set(o.useDownstreamProtocolConfig)) return 'downstream';
    if (set(o.autoConfig)) return 'auto';
  }
  if (set(c.http2ProtocolOptions)) return 'h2';
  return 'http1';
}

function tlsOf(c: ClusterProto, path: string): UpstreamTls | undefined {
  const ts = c.transportSocket;
  if (!set(ts) || !set(ts.typedConfig)) return undefined;
  if (!ts.typedConfig.typeUrl?.endsWith('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext')) {
    if (ts.typedConfig.typeUrl?.endsWith('envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer')) return undefined;
    throw new RouteCompileError(`${path}.transport_socket`, `transport socket ${ts.typedConfig.typeUrl} is not supported (UpstreamTlsContext is)`);
  }
  try {
    const u = pb.extensions.transport_sockets.tls.v3.UpstreamTlsContext.decode(ts.typedConfig.value ?? new Uint8Array(0));
    return { sni: u.sni ?? '', alpn: [...(u.commonTlsContext?.alpnProtocols ?? [])] };
  } catch (e) {
    throw new RouteCompileError(`${path}.transport_socket`, `cannot decode UpstreamTlsContext: ${(e as Error).message}`);
  }
}

function workloadOf(meta: google.protobuf.Struct.$Properties | undefined): IstioWorkload | undefined {
  const w = structField(meta, 'workload')?.stringValue;
  if (!w) return undefined;
  const [name = '', namespace = '', canonicalName = '', revision = '', cluster = ''] = w.split(';');
  return { name, namespace, canonicalName, revision, cluster };
}

function endpointsOf(cla: AssignmentProto | null | undefined, path: string): UpstreamEndpoint[] {
  const out: UpstreamEndpoint[] = [];
  (cla?.endpoints ?? []).forEach((loc, i) => {
    const priority = loc.priority ?? 0;
    const l = loc.locality;
    const locality = set(l) ? { region: l.region ?? '', zone: l.zone ?? '', subZone: l.subZone ?? '' } : undefined;
    (loc.lbEndpoints ?? []).forEach((le, j) => {
      const p = `${path}.endpoints[${i}].lb_endpoints[${j}]`;
      const sa = le.endpoint?.address?.socketAddress;
      if (!set(sa) || !sa.address) throw new RouteCompileError(p, 'endpoint without a socket_address (pipes and internal addresses are not supported)');
      const port = sa.portValue ?? 0;
      const fm = le.metadata?.filterMetadata ?? {};
      const weft = fm['weft'];
      const tunnelValue = structField(weft, 'tunnel')?.stringValue;
      const health = le.healthStatus ?? 0;
      const labels = structField(weft, 'labels')?.structValue;
      out.push({
        key: `${sa.address}:${port}`,
        address: sa.address,
        port,
        weight: Math.max(1, wrapped(le.loadBalancingWeight, 1)),
        healthy: PICKABLE.has(health),
        healthStatus: health,
        priority,
        locality,
        tunnel: tunnelValue === 'HBONE' ? 'HBONE' : 'NONE',
        identity: structField(weft, 'identity')?.stringValue || undefined,
        workload: workloadOf(fm['istio']),
        labels: structStrings(labels),
      });
    });
  });
  return out;
}

/** Compiles one Cluster with its assignment (EDS: the CLA by service name; DNS and static: its load_assignment). */
export function compileCluster(c: ClusterProto, assignment: AssignmentProto | undefined, opts: ClusterCompileOptions = {}): UpstreamCluster {
  const name = c.name ?? '';
  const path = `cluster ${JSON.stringify(name)}`;
  const random = opts.random ?? Math.random;
  const discovery = discoveryName(c.type);
  const lb = lbName(c.lbPolicy ?? 0, path);
  const prev = opts.previous?.lbPolicy === lb ? opts.previous : undefined;
  const balancer = prev?.balancer ?? makeBalancer(lb, c, random);
  const cla = discovery === 'eds' ? assignment : (c.loadAssignment ?? assignment);
  const endpoints = endpointsOf(cla, `${path}.load_assignment`);
  const t = c.circuitBreakers?.thresholds?.find((x) => (x.priority ?? 0) === 0);
  const limits: CircuitBreakerLimits = t
    ? {
        maxConnections: wrapped(t.maxConnections, DEFAULT_LIMITS.maxConnections),
        maxPendingRequests: wrapped(t.maxPendingRequests, DEFAULT_LIMITS.maxPendingRequests),
        maxRequests: wrapped(t.maxRequests, DEFAULT_LIMITS.maxRequests),
        maxRetries: wrapped(t.maxRetries, DEFAULT_LIMITS.maxRetries),
      }
    : DEFAULT_LIMITS;
  let outlier: OutlierDetector | undefined;
  if (set(c.outlierDetection)) {
    const cfg = outlierConfig(c.outlierDetection);
    const same = prev?.outlier && JSON.stringify(prev.outlier.config) === JSON.stringify({ ...prev.outlier.config, ...cfg });
    outlier = same ? prev!.outlier : new OutlierDetector(cfg, random);
  }
  const panic = set(c.commonLbConfig?.healthyPanicThreshold) ? Number(c.commonLbConfig.healthyPanicThreshold.value ?? 0) : 50;
  return new UpstreamCluster(name, discovery, lb, balancer, endpoints, durationMs(c.connectTimeout, 5000), limits, outlier, protocolOf(c, path), tlsOf(c, path), panic);
}

/** Every cluster of a CDS/EDS state, by name. */
export type UpstreamModel = ReadonlyMap<string, UpstreamCluster>;

/**
 * Compiles all clusters; EDS clusters take their ClusterLoadAssignment by eds_cluster_config
 * service_name (else the cluster name). `previous` carries balancer and outlier state over.
 */
export function compileClusters(clusters: readonly ClusterProto[], assignments: readonly AssignmentProto[], opts: { random?: () => number; previous?: UpstreamModel } = {}): Map<string, UpstreamCluster> {
  const byName = new Map<string, AssignmentProto>();
  for (const a of assignments) byName.set(a.clusterName ?? '', a);
  const out = new Map<string, UpstreamCluster>();
  for (const c of clusters) {
    const name = c.name ?? '';
    const service = c.edsClusterConfig?.serviceName || name;
    const prev = opts.previous?.get(name);
    out.set(name, compileCluster(c, byName.get(service), { ...(opts.random ? { random: opts.random } : {}), ...(prev ? { previous: prev } : {}) }));
  }
  return out;
}
