/**
 * Istio MeshConfig (mesh/v1alpha1/config.proto, 1.29) as Weft reads it: the fields Weft acts on are
 * typed and checked; every other MeshConfig field is accepted and reported as not supported yet, and a
 * name MeshConfig does not have is reported as unknown.
 */
import { z } from './zod.ts';

/** MeshConfig fields Weft acts on. */
export const MESH_SUPPORTED = ['trustDomain', 'trustDomainAliases', 'outboundTrafficPolicy', 'rootNamespace'] as const;

/** The rest of MeshConfig: valid upstream, ignored by Weft for now. */
export const MESH_UNSUPPORTED = [
  'proxyListenPort', 'proxyInboundListenPort', 'proxyHttpPort', 'connectTimeout', 'hboneIdleTimeout',
  'protocolDetectionTimeout', 'tcpKeepalive', 'ingressClass', 'ingressService', 'ingressControllerMode',
  'ingressSelector', 'enableTracing', 'accessLogFile', 'accessLogFormat', 'accessLogEncoding',
  'enableEnvoyAccessLogService', 'disableEnvoyListenerLog', 'defaultConfig', 'inboundTrafficPolicy',
  'configSources', 'enableAutoMtls', 'caCertificates', 'defaultServiceExportTo', 'defaultVirtualServiceExportTo',
  'defaultDestinationRuleExportTo', 'localityLbSetting', 'dnsRefreshRate', 'h2UpgradePolicy',
  'inboundClusterStatName', 'outboundClusterStatName', 'certificates', 'serviceSettings', 'serviceScopeConfigs',
  'enablePrometheusMerge', 'verifyCertificateAtClient', 'ca', 'extensionProviders', 'defaultProviders',
  'discoverySelectors', 'pathNormalization', 'defaultHttpRetryPolicy', 'meshMTLS', 'tlsDefaults',
] as const;

/** SPIFFE trust domain characters: lower-case letters, digits, '.', '-' and '_'. */
const trustDomain = () =>
  z.string().superRefine((s, ctx) => {
    if (!/^[a-z0-9._-]+$/.test(s)) ctx.addIssue({ code: 'custom', message: `"${s}" is not a trust domain (lower-case letters, digits, '.', '-', '_')` });
  });

export const MeshConfigSchema = z.strictObject({
  trustDomain: trustDomain().default('cluster.local'),
  trustDomainAliases: z.array(trustDomain()).default(() => []),
  outboundTrafficPolicy: z.strictObject({ mode: z.enum(['ALLOW_ANY', 'REGISTRY_ONLY']).default('ALLOW_ANY') }).prefault({}),
  rootNamespace: z.string().default('istio-system'),
  ...Object.fromEntries(MESH_UNSUPPORTED.map((k) => [k, z.unknown().optional()])),
});
export type MeshConfig = z.output<typeof MeshConfigSchema>;
