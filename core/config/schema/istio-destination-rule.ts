/**
 * networking.istio.io DestinationRule, Istio 1.29: traffic policy (load balancing, connection pool,
 * outlier detection, client TLS, tunnel, proxy protocol, retry budget), per port and per subset.
 */
import * as z from './zod.ts';
import { WorkloadSelector, bool, dnsLabel, duration, int32, intRange, labelMap, numberRange, stringList, uint32 } from './common.ts';
import { PortSelector, exportTo, istioHost } from './istio-common.ts';
import { lazy } from './lazy.ts';

// built when the first DestinationRule is validated (lazy.ts)
const schemas = lazy(() => {
  const ConsistentHash = z
    .strictObject({
      httpHeaderName: z.string().optional(),
      httpCookie: z
        .strictObject({
          name: z.string().min(1, 'must not be empty'),
          path: z.string().optional(),
          ttl: duration().optional(),
          attributes: z.array(z.strictObject({ name: z.string(), value: z.string().optional() })).optional(),
        })
        .optional(),
      useSourceIp: bool().optional(),
      httpQueryParameterName: z.string().optional(),
      ringHash: z.strictObject({ minimumRingSize: uint32().optional() }).optional(),
      maglev: z.strictObject({ tableSize: uint32().optional() }).optional(),
      minimumRingSize: uint32().optional(),
    })
    .superRefine((h, ctx) => {
      const keys = (['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const).filter((k) => h[k] !== undefined);
      if (keys.length !== 1) ctx.addIssue({ code: 'custom', message: 'exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName must be set' });
      if (h.ringHash && h.maglev) ctx.addIssue({ code: 'custom', message: 'only one of ringHash, maglev may be set' });
    });

  const LocalityLbSetting = z.strictObject({
    distribute: z.array(z.strictObject({ from: z.string().optional(), to: z.record(z.string(), uint32()).optional() })).optional(),
    failover: z.array(z.strictObject({ from: z.string().optional(), to: z.string().optional() })).optional(),
    failoverPriority: stringList().optional(),
    enabled: bool().optional(),
  });

  const LoadBalancerSettings = z
    .strictObject({
      simple: z.enum(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']).optional(),
      consistentHash: ConsistentHash.optional(),
      localityLbSetting: LocalityLbSetting.optional(),
      warmupDurationSecs: duration().optional(),
      warmup: z
        .strictObject({ duration: duration(), minimumPercent: numberRange(0, 100).optional(), aggression: z.number().min(0, 'must be 0 or more').optional() })
        .optional(),
    })
    .superRefine((l, ctx) => {
      if (l.simple !== undefined && l.consistentHash !== undefined) ctx.addIssue({ code: 'custom', message: 'only one of simple, consistentHash may be set' });
    });

  const ConnectionPoolSettings = z.strictObject({
    tcp: z
      .strictObject({
        maxConnections: int32().optional(),
        connectTimeout: duration().optional(),
        tcpKeepalive: z.strictObject({ probes: uint32().optional(), time: duration().optional(), interval: duration().optional() }).optional(),
        maxConnectionDuration: duration().optional(),
        idleTimeout: duration().optional(),
      })
      .optional(),
    http: z
      .strictObject({
        http1MaxPendingRequests: int32().optional(),
        http2MaxRequests: int32().optional(),
        maxRequestsPerConnection: int32().optional(),
        maxRetries: int32().optional(),
        idleTimeout: duration().optional(),
        h2UpgradePolicy: z.enum(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
        useClientProtocol: bool().optional(),
        maxConcurrentStreams: int32().optional(),
      })
      .optional(),
  });

  const OutlierDetection = z.strictObject({
    splitExternalLocalOriginErrors: bool().optional(),
    consecutiveLocalOriginFailures: uint32().optional(),
    consecutiveGatewayErrors: uint32().optional(),
    consecutive5xxErrors: uint32().optional(),
    consecutiveErrors: int32().optional(),
    interval: duration().optional(),
    baseEjectionTime: duration().optional(),
    maxEjectionPercent: intRange(0, 100).optional(),
    minHealthPercent: intRange(0, 100).optional(),
  });

  const ClientTLSSettings = z
    .strictObject({
      mode: z.enum(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).optional(),
      clientCertificate: z.string().optional(),
      privateKey: z.string().optional(),
      caCertificates: z.string().optional(),
      credentialName: z.string().optional(),
      subjectAltNames: stringList().optional(),
      sni: z.string().optional(),
      insecureSkipVerify: bool().optional(),
      caCrl: z.string().optional(),
    })
    .superRefine((t, ctx) => {
      if (t.mode === 'MUTUAL' && !t.credentialName && (!t.clientCertificate || !t.privateKey)) {
        ctx.addIssue({ code: 'custom', message: 'MUTUAL mode needs credentialName, or clientCertificate and privateKey' });
      }
      if (t.mode === 'ISTIO_MUTUAL' && (t.clientCertificate || t.privateKey || t.caCertificates || t.credentialName)) {
        ctx.addIssue({ code: 'custom', message: 'ISTIO_MUTUAL mode takes no certificates or credentialName (the mesh provides them)' });
      }
    });

  const PortTrafficPolicy = z.strictObject({
    port: PortSelector,
    loadBalancer: LoadBalancerSettings.optional(),
    connectionPool: ConnectionPoolSettings.optional(),
    outlierDetection: OutlierDetection.optional(),
    tls: ClientTLSSettings.optional(),
  });

  const TrafficPolicy = z.strictObject({
    loadBalancer: LoadBalancerSettings.optional(),
    connectionPool: ConnectionPoolSettings.optional(),
    outlierDetection: OutlierDetection.optional(),
    tls: ClientTLSSettings.optional(),
    portLevelSettings: z.array(PortTrafficPolicy).max(4096, 'must have at most 4096 items').optional(),
    tunnel: z.strictObject({ protocol: z.enum(['CONNECT', 'POST']).optional(), targetHost: z.string(), targetPort: intRange(1, 65535) }).optional(),
    proxyProtocol: z.strictObject({ version: z.enum(['V1', 'V2']).optional() }).optional(),
    retryBudget: z.strictObject({ percent: numberRange(0, 100).optional(), minRetryConcurrency: uint32().optional() }).optional(),
  });

  const Subset = z.strictObject({
    name: dnsLabel(),
    labels: labelMap().optional(),
    trafficPolicy: TrafficPolicy.optional(),
  });

  const DestinationRuleSpec = z
    .strictObject({
      host: istioHost(),
      trafficPolicy: TrafficPolicy.optional(),
      subsets: z.array(Subset).optional(),
      exportTo: exportTo(),
      workloadSelector: WorkloadSelector.optional(),
    })
    .superRefine((s, ctx) => {
      const seen = new Map<string, number>();
      (s.subsets ?? []).forEach((sub, i) => {
        if (seen.has(sub.name)) ctx.addIssue({ code: 'custom', path: ['subsets', i, 'name'], message: `duplicate subset "${sub.name}" (also subsets[${seen.get(sub.name)}])` });
        seen.set(sub.name, i);
      });
    });
  return { DestinationRuleSpec, TrafficPolicy };
});

export const destinationRuleSpec = (): ReturnType<typeof schemas>['DestinationRuleSpec'] => schemas().DestinationRuleSpec;
export type DestinationRuleSpec = z.output<ReturnType<typeof schemas>['DestinationRuleSpec']>;
export type TrafficPolicy = z.output<ReturnType<typeof schemas>['TrafficPolicy']>;
