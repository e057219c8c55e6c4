/**
 * Istio MeshConfig (mesh/v1alpha1/config.proto, 1.29) as Weft reads it: the fields Weft acts on are
 * typed and checked; every other MeshConfig field is accepted and reported as not supported yet, and a
 * name MeshConfig does not have is reported as unknown.
 */
import * as z from './zod.ts';

/** MeshConfig fields Weft acts on. */
export const MESH_SUPPORTED = ['trustDomain', 'trustDomainAliases', 'outboundTrafficPolicy', 'rootNamespace', 'extensionProviders'] as const;

/** The rest of MeshConfig: valid upstream, ignored by Weft for now. */
export const MESH_UNSUPPORTED = [
  'proxyListenPort', 'proxyInboundListenPort', 'proxyHttpPort', 'connectTimeout', 'hboneIdleTimeout',
  'protocolDetectionTimeout', 'tcpKeepalive', 'ingressClass', 'ingressService', 'ingressControllerMode',
  'ingressSelector', 'enableTracing', 'accessLogFile', 'accessLogFormat', 'accessLogEncoding',
  'enableEnvoyAccessLogService', 'disableEnvoyListenerLog', 'defaultConfig', 'inboundTrafficPolicy',
  'configSources', 'enableAutoMtls', 'caCertificates', 'defaultServiceExportTo', 'defaultVirtualServiceExportTo',
  'defaultDestinationRuleExportTo', 'localityLbSetting', 'dnsRefreshRate', 'h2UpgradePolicy',
  'inboundClusterStatName', 'outboundClusterStatName', 'certificates', 'serviceSettings', 'serviceScopeConfigs',
  'enablePrometheusMerge', 'verifyCertificateAtClient', 'ca', 'defaultProviders',
  'discoverySelectors', 'pathNormalization', 'defaultHttpRetryPolicy', 'meshMTLS', 'tlsDefaults',
] as const;

/** SPIFFE trust domain characters: lower-case letters, digits, '.', '-' and '_'. */
const trustDomain = () =>
  z.string().superRefine((s, ctx) => {
    if (!/^[a-z0-9._-]+$/.test(s)) ctx.addIssue({ code: 'custom', message: `"${s}" is not a trust domain (lower-case letters, digits, '.', '-', '_')` });
  });

/**
 * `extensionProviders[]`: the `envoyExtAuthzHttp` kind is read (AuthorizationPolicy CUSTOM at L7,
 * core/xds/l7/authz.ts); other provider kinds are kept as written and reported where a policy uses them.
 */
const ExtAuthzHttp = z.looseObject({
  service: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  timeout: z.string().optional(),
  pathPrefix: z.string().optional(),
  failOpen: z.boolean().optional(),
  statusOnError: z.string().optional(),
  includeRequestHeadersInCheck: z.array(z.string()).optional(),
  includeHeadersInCheck: z.array(z.string()).optional(),
  includeAdditionalHeadersInCheck: z.record(z.string(), z.string()).optional(),
  headersToUpstreamOnAllow: z.array(z.string()).optional(),
  headersToDownstreamOnDeny: z.array(z.string()).optional(),
  headersToDownstreamOnAllow: z.array(z.string()).optional(),
});
const ExtensionProvider = z.looseObject({ name: z.string().min(1), envoyExtAuthzHttp: ExtAuthzHttp.optional() });
export type ExtensionProvider = z.output<typeof ExtensionProvider>;

export const MeshConfigSchema = z.strictObject({
  extensionProviders: z.array(ExtensionProvider).default(() => []),
  trustDomain: trustDomain().default('cluster.local'),
  trustDomainAliases: z.array(trustDomain()).default(() => []),
  outboundTrafficPolicy: z.strictObject({ mode: z.enum(['ALLOW_ANY', 'REGISTRY_ONLY']).default('ALLOW_ANY') }).prefault({}),
  rootNamespace: z.string().default('istio-system'),
  ...Object.fromEntries(MESH_UNSUPPORTED.map((k) => [k, z.unknown().optional()])),
});
export type MeshConfig = z.output<typeof MeshConfigSchema>;
