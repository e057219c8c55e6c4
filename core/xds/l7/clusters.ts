/**
 * Service ports and DestinationRules -> Envoy Clusters (core/route/README.md): one per service port,
 * one more per DestinationRule subset (`outbound|<port>|<subset>|<host>`), with the rule's load
 * balancer, connection pool (circuit breakers, HTTP options), outlier detection (Istio's defaults for
 * absent fields), upstream TLS (SIMPLE), and HTTP/2 upstreams for http2/grpc/h2c ports.
 * Spec: https://istio.io/latest/docs/reference/config/networking/destination-rule/ (Istio 1.29).
 */
import type { ConfigResource, ServiceInfo, ServicePortInfo } from '../../config/snapshot.ts';
import type { DestinationRuleSpec, TrafficPolicy } from '../../config/schema/istio-destination-rule.ts';
import { envoy } from '../pb.ts';
import type { ClusterProto } from '../pb.ts';
import { L7_TYPE_URL, FILTER, subsetClusterName } from './names.ts';
import { any, duration, msDuration } from './proto-util.ts';
import type { Warn } from './routes-gateway-api.ts';

const Cluster = envoy.config.cluster.v3.Cluster;
const ADS_SOURCE = { ads: {}, resourceApiVersion: envoy.config.core.v3.ApiVersion.V3 };

/** Istio's outlier detection defaults (interval 10s, base ejection 30s, at most 10% ejected, 5 consecutive 5xx). */
export const OUTLIER_DEFAULTS = { intervalMs: 10_000, baseEjectionMs: 30_000, maxEjectionPercent: 10, consecutive5xx: 5 };

export type HashPolicy = envoy.config.route.v3.RouteAction.HashPolicy.$Properties;

/** Whether a port speaks HTTP/2 to its workloads (appProtocol, else Istio's port name prefixes). */
export function isHttp2Port(port: ServicePortInfo): boolean {
  const p = (port.appProtocol ?? '').toLowerCase();
  if (p) return p === 'http2' || p === 'grpc' || p === 'h2c' || p === 'kubernetes.io/h2c' || p === 'grpc-web';
  const n = port.name.toLowerCase();
  return /^(http2|grpc|h2c)(-|$)/.test(n);
}

/** The DestinationRule for a hostname: one in the service's namespace first, then any other (by namespace), then a wildcard host. */
export function destinationRuleFor(rules: readonly ConfigResource[], svc: ServiceInfo, resolveHost: (h: string, ns: string) => string): ConfigResource | undefined {
  let exact: ConfigResource | undefined;
  let wild: { r: ConfigResource; len: number } | undefined;
  for (const r of rules) {
    const host = (r.spec as DestinationRuleSpec).host;
    if (host.startsWith('*')) {
      const suffix = host.slice(1);
      if ((host === '*' || svc.hostname.endsWith(suffix)) && (!wild || suffix.length > wild.len)) wild = { r, len: suffix.length };
      continue;
    }
    if (resolveHost(host, r.metadata.namespace) !== svc.hostname) continue;
    if (!exact || (r.metadata.namespace === svc.namespace && exact.metadata.namespace !== svc.namespace)) exact = r;
  }
  return exact ?? wild?.r;
}

/** The policy for one port: port-level settings replace the sections they set (Istio's merge). */
export function policyForPort(policy: TrafficPolicy | undefined, port: number): TrafficPolicy | undefined {
  if (!policy) return undefined;
  const pl = policy.portLevelSettings?.find((p) => p.port.number === port);
  if (!pl) return policy;
  const { port: _p, ...rest } = pl;
  return { ...policy, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
}

/** A subset's policy over the rule's (per section), then the port's. */
export function mergePolicies(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number): TrafficPolicy | undefined {
  const t = policyForPort(top, port);
  const s = policyForPort(subset, port);
  if (!s) return t;
  if (!t) return s;
  return { ...t, ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) };
}

/** Route hash policies for a consistentHash load balancer (they live on routes in Envoy). */
export function hashPolicies(policy: TrafficPolicy | undefined): HashPolicy[] | undefined {
  const ch = policy?.loadBalancer?.consistentHash;
  if (!ch) return undefined;
  if (ch.httpHeaderName) return [{ header: { headerName: ch.httpHeaderName } }];
  if (ch.httpCookie) {
    const ttl = duration(ch.httpCookie.ttl);
    return [{ cookie: { name: ch.httpCookie.name, ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}), ...(ttl ? { ttl } : {}) } }];
  }
  if (ch.useSourceIp) return [{ connectionProperties: { sourceIp: true } }];
  if (ch.httpQueryParameterName) return [{ queryParameter: { name: ch.httpQueryParameterName } }];
  return undefined;
}

/**
 * One Cluster for a service port (and subset). `policy` is the merged traffic policy; `dr` names the
 * DestinationRule for warnings. DNS ServiceEntries get STRICT_DNS (DNS) or LOGICAL_DNS
 * (DNS_ROUND_ROBIN) with their endpoints inline; everything else is EDS over ADS.
 */
export function l7Cluster(svc: ServiceInfo, port: ServicePortInfo, subset: string, policy: TrafficPolicy | undefined, dr: ConfigResource | undefined, warn: Warn, dnsEndpoints?: readonly string[]): ClusterProto {
  const name = subsetClusterName(svc.hostname, port.port, subset);
  const c: ClusterProto = { name, lbPolicy: Cluster.LbPolicy.ROUND_ROBIN };
  const dns = svc.source === 'ServiceEntry' && (svc.resolution === 'DNS' || svc.resolution === 'DNS_ROUND_ROBIN');
  if (dns) {
    c.type = svc.resolution === 'DNS' ? Cluster.DiscoveryType.STRICT_DNS : Cluster.DiscoveryType.LOGICAL_DNS;
    const hosts = dnsEndpoints?.length ? dnsEndpoints : [svc.hostname];
    c.loadAssignment = {
      clusterName: name,
      endpoints: [{ lbEndpoints: hosts.map((h) => ({ endpoint: { address: { socketAddress: { address: h, portValue: port.port } } } })) }],
    };
  } else {
    c.type = Cluster.DiscoveryType.EDS;
    c.edsClusterConfig = { edsConfig: ADS_SOURCE, serviceName: name };
  }
  const at = (f: string) => `spec.${subset ? `subsets[name=${subset}].trafficPolicy` : 'trafficPolicy'}.${f}`;
  const w = (f: string, msg: string) => dr && warn(dr, at(f), msg);
  const http2 = isHttp2Port(port) || policy?.connectionPool?.http?.h2UpgradePolicy === 'UPGRADE';
  const lb = policy?.loadBalancer;
  if (lb?.simple) {
    const m: Record<string, number> = { ROUND_ROBIN: Cluster.LbPolicy.ROUND_ROBIN, LEAST_REQUEST: Cluster.LbPolicy.LEAST_REQUEST, LEAST_CONN: Cluster.LbPolicy.LEAST_REQUEST, RANDOM: Cluster.LbPolicy.RANDOM, UNSPECIFIED: Cluster.LbPolicy.ROUND_ROBIN };
    if (m[lb.simple] !== undefined) c.lbPolicy = m[lb.simple];
    else w('loadBalancer.simple', `${lb.simple} is not supported (round robin used)`);
  } else if (lb?.consistentHash) {
    if (lb.consistentHash.maglev) {
      c.lbPolicy = Cluster.LbPolicy.MAGLEV;
      if (lb.consistentHash.maglev.tableSize) c.maglevLbConfig = { tableSize: { value: lb.consistentHash.maglev.tableSize } };
    } else {
      c.lbPolicy = Cluster.LbPolicy.RING_HASH;
      const size = lb.consistentHash.ringHash?.minimumRingSize ?? lb.consistentHash.minimumRingSize;
      if (size) c.ringHashLbConfig = { minimumRingSize: { value: size } };
    }
  }
  if (lb?.localityLbSetting) w('loadBalancer.localityLbSetting', 'locality load balancing settings are not supported (ignored)');
  if (lb?.warmup || lb?.warmupDurationSecs) w('loadBalancer.warmup', 'slow start (warmup) is not supported (ignored)');

  const pool = policy?.connectionPool;
  c.connectTimeout = duration(pool?.tcp?.connectTimeout) ?? msDuration(10_000);
  const t: envoy.config.cluster.v3.CircuitBreakers.Thresholds.$Properties = {};
  if (pool?.tcp?.maxConnections !== undefined) t.maxConnections = { value: pool.tcp.maxConnections };
  if (pool?.http?.http1MaxPendingRequests !== undefined) t.maxPendingRequests = { value: pool.http.http1MaxPendingRequests };
  if (pool?.http?.http2MaxRequests !== undefined) t.maxRequests = { value: pool.http.http2MaxRequests };
  if (pool?.http?.maxRetries !== undefined) t.maxRetries = { value: pool.http.maxRetries };
  if (Object.keys(t).length) c.circuitBreakers = { thresholds: [t] };
  if (pool?.tcp?.tcpKeepalive) w('connectionPool.tcp.tcpKeepalive', 'TCP keepalive settings are not supported (ignored)');
  if (pool?.http?.useClientProtocol) w('connectionPool.http.useClientProtocol', 'useClientProtocol is not supported (the port protocol decides)');

  const common: envoy.config.core.v3.HttpProtocolOptions.$Properties = {};
  const idle = duration(pool?.http?.idleTimeout ?? pool?.tcp?.idleTimeout);
  if (idle) common.idleTimeout = idle;
  if (pool?.http?.maxRequestsPerConnection) common.maxRequestsPerConnection = { value: pool.http.maxRequestsPerConnection };
  const maxDuration = duration(pool?.tcp?.maxConnectionDuration);
  if (maxDuration) common.maxConnectionDuration = maxDuration;
  if (http2 || Object.keys(common).length) {
    const opts: envoy.extensions.upstreams.http.v3.HttpProtocolOptions.$Properties = {
      explicitHttpConfig: http2
        ? { http2ProtocolOptions: pool?.http?.maxConcurrentStreams ? { maxConcurrentStreams: { value: pool.http.maxConcurrentStreams } } : {} }
        : { httpProtocolOptions: {} },
    };
    if (Object.keys(common).length) opts.commonHttpProtocolOptions = common;
    c.typedExtensionProtocolOptions = { [FILTER.httpProtocolOptions]: any(L7_TYPE_URL.httpProtocolOptions, envoy.extensions.upstreams.http.v3.HttpProtocolOptions.encode(opts).finish()) };
  }

  const od = policy?.outlierDetection;
  if (od) {
    const o: envoy.config.cluster.v3.OutlierDetection.$Properties = {
      interval: duration(od.interval) ?? msDuration(OUTLIER_DEFAULTS.intervalMs),
      baseEjectionTime: duration(od.baseEjectionTime) ?? msDuration(OUTLIER_DEFAULTS.baseEjectionMs),
      maxEjectionPercent: { value: od.maxEjectionPercent ?? OUTLIER_DEFAULTS.maxEjectionPercent },
    };
    const c5 = od.consecutive5xxErrors ?? (od.consecutiveErrors !== undefined ? od.consecutiveErrors : undefined);
    if (c5 !== undefined) {
      o.consecutive_5xx = { value: c5 };
      o.enforcingConsecutive_5xx = { value: c5 > 0 ? 100 : 0 };
    } else {
      o.consecutive_5xx = { value: OUTLIER_DEFAULTS.consecutive5xx };
      o.enforcingConsecutive_5xx = { value: 100 };
    }
    if (od.consecutiveGatewayErrors !== undefined) {
      o.consecutiveGatewayFailure = { value: od.consecutiveGatewayErrors };
      o.enforcingConsecutiveGatewayFailure = { value: od.consecutiveGatewayErrors > 0 ? 100 : 0 };
    }
    if (od.splitExternalLocalOriginErrors) {
      o.splitExternalLocalOriginErrors = true;
      if (od.consecutiveLocalOriginFailures !== undefined) o.consecutiveLocalOriginFailure = { value: od.consecutiveLocalOriginFailures };
    }
    c.outlierDetection = o;
    if (od.minHealthPercent !== undefined) c.commonLbConfig = { healthyPanicThreshold: { value: od.minHealthPercent } };
  }

  const tls = policy?.tls;
  if (tls?.mode === 'SIMPLE') {
    const ctx: envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext.$Properties = { sni: tls.sni ?? svc.hostname, commonTlsContext: {} };
    if (http2) ctx.commonTlsContext!.alpnProtocols = ['h2'];
    c.transportSocket = { name: FILTER.tls, typedConfig: any(L7_TYPE_URL.upstreamTls, envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext.encode(ctx).finish()) };
    if (tls.caCertificates || tls.credentialName || tls.subjectAltNames?.length) w('tls', 'caCertificates, credentialName and subjectAltNames are not supported (the proxy verifies against its system roots)');
  } else if (tls?.mode === 'MUTUAL') w('tls.mode', 'MUTUAL upstream TLS is not supported (plain TCP used)');
  if (policy?.tunnel) w('tunnel', 'tunnel settings are not supported (ignored)');
  if (policy?.proxyProtocol) w('proxyProtocol', 'proxyProtocol is not supported (ignored)');
  if (policy?.retryBudget) w('retryBudget', 'retryBudget is not supported (ignored)');
  return c;
}
