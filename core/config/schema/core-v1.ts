/**
 * Kubernetes core/v1 kinds Weft reads (Namespace, Service, Pod, ServiceAccount, Secret, ConfigMap) and
 * discovery.k8s.io/v1 EndpointSlice, with the API server's field names, defaults and checks. Pod specs
 * carry many fields a mesh never reads (containers' images, volumes...): those are accepted as they are.
 */
import * as z from './zod.ts';
import { bool, dnsLabel, ipAddress, labelMap, port, stringList, stringMap } from './common.ts';
import { resourceShape, specLessShape } from './meta.ts';
import { isIP, isIPv4, isIPv6 } from '../../net/ip.ts';
import { lazy } from './lazy.ts';

/** IANA_SVC_NAME: how a named port is spelled (container ports, Service targetPort). */
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export function ianaSvcNameProblem(s: string): string | undefined {
  if (s.length > 15 || !IANA_SVC_NAME.test(s) || s.includes('--')) {
    return `"${s}" is not a port name (up to 15 lower case letters, digits and -, with at least one letter)`;
  }
  return undefined;
}
const portName = () =>
  z.string().superRefine((s, ctx) => {
    const p = ianaSvcNameProblem(s);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  });

const Protocol = z.enum(['TCP', 'UDP', 'SCTP']);

export const NamespaceSpec = z.strictObject({ finalizers: stringList().optional() });
export const NamespaceResource = resourceShape(NamespaceSpec, { nameRule: 'label' });

const ServicePort = z.strictObject({
  name: dnsLabel().optional(),
  protocol: Protocol.default('TCP'),
  appProtocol: z.string().optional(),
  port: port(),
  targetPort: z
    .union([z.int(), z.string()], { error: 'must be a port number or a port name' })
    .superRefine((v, ctx) => {
      const p = typeof v === 'number' ? (v < 1 || v > 65535 ? 'must be 1..65535' : undefined) : ianaSvcNameProblem(v);
      if (p) ctx.addIssue({ code: 'custom', message: p });
    })
    .optional(),
  nodePort: port().optional(),
});

export const ServiceSpec = z
  .strictObject({
    selector: labelMap().optional(),
    ports: z.array(ServicePort).optional(),
    clusterIP: z.string().optional(),
    clusterIPs: stringList().max(2, 'must have at most 2 items').optional(),
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).default('ClusterIP'),
    externalName: z.string().optional(),
    externalIPs: z.array(ipAddress()).optional(),
    sessionAffinity: z.enum(['None', 'ClientIP']).default('None'),
    sessionAffinityConfig: z.unknown().optional(),
    ipFamilies: z.array(z.enum(['IPv4', 'IPv6'])).max(2, 'must have at most 2 items').optional(),
    ipFamilyPolicy: z.enum(['SingleStack', 'PreferDualStack', 'RequireDualStack']).optional(),
    internalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
    externalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
    loadBalancerIP: z.string().optional(),
    loadBalancerSourceRanges: stringList().optional(),
    loadBalancerClass: z.string().optional(),
    allocateLoadBalancerNodePorts: bool().optional(),
    healthCheckNodePort: port().optional(),
    publishNotReadyAddresses: bool().optional(),
    trafficDistribution: z.string().optional(),
  })
  .superRefine((s, ctx) => {
    const ips = s.clusterIPs ?? (s.clusterIP !== undefined ? [s.clusterIP] : []);
    ips.forEach((ip, i) => {
      if (ip !== 'None' && ip !== '' && !isIP(ip)) {
        ctx.addIssue({ code: 'custom', path: s.clusterIPs ? ['clusterIPs', i] : ['clusterIP'], message: `"${ip}" is not an IP address or None` });
      }
    });
    if (s.clusterIPs && s.clusterIP !== undefined && s.clusterIPs[0] !== s.clusterIP) {
      ctx.addIssue({ code: 'custom', path: ['clusterIPs', 0], message: 'must equal clusterIP' });
    }
    if (s.type === 'ExternalName' && !s.externalName) {
      ctx.addIssue({ code: 'custom', path: ['externalName'], message: 'is required when type is ExternalName' });
    }
    const ports = s.ports ?? [];
    const names = new Map<string, number>();
    const numbers = new Map<string, number>();
    ports.forEach((p, i) => {
      if (ports.length > 1 && !p.name) ctx.addIssue({ code: 'custom', path: ['ports', i, 'name'], message: 'is required when a Service has more than one port' });
      if (p.name) {
        if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'name'], message: `duplicate port name "${p.name}" (also ports[${names.get(p.name)}])` });
        names.set(p.name, i);
      }
      const k = `${p.port}/${p.protocol}`;
      if (numbers.has(k)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'port'], message: `duplicate port ${k} (also ports[${numbers.get(k)}])` });
      numbers.set(k, i);
    });
  });
export const ServiceResource = resourceShape(ServiceSpec, { nameRule: 'dns1035' });

// Pods: built when the first Pod is validated (lazy.ts)
const podSchemas = lazy(() => {
  const ContainerPort = z.strictObject({
    name: portName().optional(),
    containerPort: port(),
    protocol: Protocol.default('TCP'),
    hostPort: port().optional(),
    hostIP: z.string().optional(),
  });

  /** A container: Weft reads its name and ports; image, env, resources and the rest pass through unread. */
  const Container = z.looseObject({ name: z.string(), ports: z.array(ContainerPort).optional() });

  /** Pod spec fields that exist upstream but mean nothing to a mesh: accepted without a warning. */
  const POD_SPEC_PASSTHROUGH = [
    'activeDeadlineSeconds', 'affinity', 'automountServiceAccountToken', 'dnsConfig', 'dnsPolicy', 'enableServiceLinks',
    'ephemeralContainers', 'hostAliases', 'hostIPC', 'hostPID', 'hostUsers', 'hostname', 'hostnameOverride',
    'imagePullSecrets', 'nodeSelector', 'os', 'overhead', 'preemptionPolicy', 'priority', 'priorityClassName',
    'readinessGates', 'resourceClaims', 'resources', 'restartPolicy', 'runtimeClassName', 'schedulerName',
    'schedulingGates', 'securityContext', 'setHostnameAsFQDN', 'shareProcessNamespace', 'subdomain',
    'terminationGracePeriodSeconds', 'tolerations', 'topologySpreadConstraints', 'volumes',
  ] as const;

  const PodSpec = z.strictObject({
    nodeName: z.string().optional(),
    serviceAccountName: z.string().optional(),
    /** Deprecated alias of serviceAccountName, still read by Kubernetes. */
    serviceAccount: z.string().optional(),
    hostNetwork: bool().optional(),
    containers: z.array(Container).min(1, 'must have at least one container'),
    initContainers: z.array(Container).optional(),
    ...Object.fromEntries(POD_SPEC_PASSTHROUGH.map((k) => [k, z.unknown().optional()])),
  });

  const PodCondition = z.looseObject({ type: z.string(), status: z.enum(['True', 'False', 'Unknown']) });
  const PodStatus = z.looseObject({
    phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']).optional(),
    podIP: ipAddress().optional(),
    podIPs: z.array(z.strictObject({ ip: ipAddress() })).max(2, 'must have at most 2 items').optional(),
    hostIP: ipAddress().optional(),
    conditions: z.array(PodCondition).optional(),
  });
  return { PodSpec, PodStatus, PodResource: resourceShape(PodSpec, { status: PodStatus }) };
});
export const podResource = () => podSchemas().PodResource;

export const ServiceAccountResource = specLessShape({
  secrets: z.array(z.unknown()).optional(),
  imagePullSecrets: z.array(z.unknown()).optional(),
  automountServiceAccountToken: bool().optional(),
});

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const base64Map = () =>
  z.record(z.string(), z.string()).superRefine((m, ctx) => {
    for (const [k, v] of Object.entries(m)) {
      if (!/^[-._a-zA-Z0-9]+$/.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'key must consist of letters, digits, -, _ or .' });
      else if (!BASE64.test(v.replace(/\s+/g, ''))) ctx.addIssue({ code: 'custom', path: [k], message: 'must be base64-encoded (use stringData for plain text)' });
    }
  });

export const secretResource = lazy(() =>
  specLessShape({
    type: z.string().default('Opaque'),
    data: base64Map().optional(),
    stringData: stringMap().optional(),
    immutable: bool().optional(),
  }).superRefine((s, ctx) => {
    if (s.type !== 'kubernetes.io/tls') return;
    for (const key of ['tls.crt', 'tls.key']) {
      if (s.data?.[key] === undefined && s.stringData?.[key] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['data', key], message: 'is required for a Secret of type kubernetes.io/tls' });
      }
    }
  }),
);

export const configMapResource = lazy(() =>
  specLessShape({
    data: stringMap().optional(),
    binaryData: base64Map().optional(),
    immutable: bool().optional(),
  }),
);

// EndpointSlices: built when the first one is validated (lazy.ts)
export const endpointSliceResource = lazy(() => {
  const EndpointConditions = z.strictObject({ ready: bool().optional(), serving: bool().optional(), terminating: bool().optional() });
  const ObjectReference = z.strictObject({
    kind: z.string().optional(),
    namespace: z.string().optional(),
    name: z.string().optional(),
    uid: z.string().optional(),
    apiVersion: z.string().optional(),
    resourceVersion: z.string().optional(),
    fieldPath: z.string().optional(),
  });
  const Endpoint = z.strictObject({
    addresses: stringList().min(1, 'must have at least one address').max(100, 'must have at most 100 addresses'),
    conditions: EndpointConditions.optional(),
    hostname: z.string().optional(),
    targetRef: ObjectReference.optional(),
    nodeName: z.string().optional(),
    zone: z.string().optional(),
    hints: z.unknown().optional(),
    deprecatedTopology: stringMap().optional(),
  });
  const EndpointPort = z.strictObject({
    name: z.string().optional(),
    protocol: Protocol.default('TCP'),
    port: port().optional(),
    appProtocol: z.string().optional(),
  });

  return specLessShape({
    addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
    endpoints: z.array(Endpoint).prefault([]),
    ports: z.array(EndpointPort).optional(),
  }).superRefine((s, ctx) => {
    const ok = s.addressType === 'IPv4' ? isIPv4 : s.addressType === 'IPv6' ? isIPv6 : (a: string) => a.length > 0;
    s.endpoints.forEach((e, i) =>
      e.addresses.forEach((a, j) => {
        if (!ok(a)) ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'addresses', j], message: `"${a}" is not an ${s.addressType} address` });
      }),
    );
  });
});

export type NamespaceSpec = z.output<typeof NamespaceSpec>;
export type ServiceSpec = z.output<typeof ServiceSpec>;
export type PodSpec = z.output<ReturnType<typeof podSchemas>['PodSpec']>;
export type PodStatus = z.output<ReturnType<typeof podSchemas>['PodStatus']>;
export type SecretData = Omit<z.output<ReturnType<typeof secretResource>>, 'apiVersion' | 'kind' | 'metadata' | 'status'>;
export type ConfigMapData = Omit<z.output<ReturnType<typeof configMapResource>>, 'apiVersion' | 'kind' | 'metadata' | 'status'>;
export type EndpointSliceData = Omit<z.output<ReturnType<typeof endpointSliceResource>>, 'apiVersion' | 'kind' | 'metadata' | 'status'>;

