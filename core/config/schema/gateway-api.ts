/**
 * gateway.networking.k8s.io GatewayClass, Gateway and ReferenceGrant, Gateway API v1.4 standard channel
 * (v1 and v1beta1 read alike): the CRDs' defaults, patterns and CEL rules. Routes are in
 * gateway-api-routes.ts; the references both use are here.
 */
import * as z from './zod.ts';
import { lazy } from './lazy.ts';
import { GATEWAY_HOSTNAME, dnsLabel, dnsSubdomain, group, kind, labelKeyProblem, objectName, port } from './common.ts';
import { isIP } from '../../net/ip.ts';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const CONTROLLER_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/;

export const gatewayHostname = () => z.string().min(1).max(253).regex(GATEWAY_HOSTNAME, 'must be a host name, optionally starting with *.');
/** SectionName and listener names are DNS subdomains. */
export const sectionName = () => dnsSubdomain();

/** ParentReference: defaults group gateway.networking.k8s.io, kind Gateway. */
export const ParentReference = z.strictObject({
  group: group().default(GATEWAY_GROUP),
  kind: kind().default('Gateway'),
  namespace: dnsLabel().optional(),
  name: objectName(),
  sectionName: sectionName().optional(),
  port: port().optional(),
});
export type ParentReference = z.output<typeof ParentReference>;

/** BackendObjectReference: defaults group "" and kind Service; a Service needs a port. */
export const backendRefShape = {
  group: group().default(''),
  kind: kind().default('Service'),
  name: objectName(),
  namespace: dnsLabel().optional(),
  port: port().optional(),
};
export const needsServicePort = (b: { group: string; kind: string; port?: number }, ctx: z.core.$RefinementCtx<unknown>) => {
  if (b.group === '' && b.kind === 'Service' && b.port === undefined) ctx.addIssue({ code: 'custom', path: ['port'], message: 'is required for a Service reference' });
};
export const BackendObjectReference = z.strictObject(backendRefShape).superRefine(needsServicePort);

const ParametersReference = z.strictObject({ group: group(), kind: kind(), name: objectName(), namespace: dnsLabel().optional() });

// built when the first resource of its kind is validated (lazy.ts)
export const gatewayClassSpec = lazy(() => {
  const GatewayClassSpec = z.strictObject({
    controllerName: z.string().min(1).max(253).regex(CONTROLLER_NAME, 'must be a domain-prefixed path (e.g. weft.io/gateway-controller)'),
    parametersRef: ParametersReference.optional(),
    description: z.string().max(64).optional(),
  });
  return GatewayClassSpec;
});

const SecretObjectReference = z.strictObject({
  group: group().default(''),
  kind: kind().default('Secret'),
  name: objectName(),
  namespace: dnsLabel().optional(),
});

const LabelSelector = z.strictObject({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z
    .array(z.strictObject({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).optional() }))
    .optional(),
});

const Listener = z.strictObject({
  name: sectionName(),
  hostname: gatewayHostname().optional(),
  port: port(),
  protocol: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$/, 'must be a protocol name (HTTP, HTTPS, TLS, TCP, UDP, or domain-prefixed)'),
  tls: z
    .strictObject({
      mode: z.enum(['Terminate', 'Passthrough']).default('Terminate'),
      certificateRefs: z.array(SecretObjectReference).max(64).optional(),
      options: z.record(z.string(), z.string().max(4096)).optional(),
    })
    .superRefine((t, ctx) => {
      if (t.mode === 'Terminate' && !t.certificateRefs?.length && !Object.keys(t.options ?? {}).length) {
        ctx.addIssue({ code: 'custom', message: 'certificateRefs or options must be specified when mode is Terminate' });
      }
    })
    .optional(),
  allowedRoutes: z
    .strictObject({
      namespaces: z
        .strictObject({ from: z.enum(['All', 'Selector', 'Same']).default('Same'), selector: LabelSelector.optional() })
        .superRefine((n, ctx) => {
          if (n.from === 'Selector' && !n.selector) ctx.addIssue({ code: 'custom', path: ['selector'], message: 'is required when from is Selector' });
        })
        .prefault({}),
      kinds: z.array(z.strictObject({ group: group().default(GATEWAY_GROUP), kind: kind() })).max(8).optional(),
    })
    .prefault({}),
});

const GatewayAddress = z
  .strictObject({
    type: z
      .string()
      .min(1)
      .max(253)
      .regex(/^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/, 'must be IPAddress, Hostname, NamedAddress or domain-prefixed')
      .default('IPAddress'),
    value: z.string().max(253).optional(),
  })
  .superRefine((a, ctx) => {
    if (a.type === 'IPAddress' && a.value !== undefined && !isIP(a.value)) ctx.addIssue({ code: 'custom', path: ['value'], message: `"${a.value}" is not an IP address` });
    if (a.type === 'Hostname' && a.value && !GATEWAY_HOSTNAME.test(a.value)) ctx.addIssue({ code: 'custom', path: ['value'], message: `"${a.value}" is not a host name` });
  });

const infraMap = (maxValue: number) =>
  z
    .record(z.string(), z.string().max(maxValue))
    .superRefine((m, ctx) => {
      if (Object.keys(m).length > 8) ctx.addIssue({ code: 'custom', message: 'must have at most 8 entries' });
      for (const k of Object.keys(m)) {
        const p = labelKeyProblem(k);
        if (p) ctx.addIssue({ code: 'custom', path: [k], message: p });
      }
    });

export const GatewaySpec = z
  .strictObject({
    gatewayClassName: objectName(),
    listeners: z.array(Listener).min(1, 'must have at least one listener').max(64, 'must have at most 64 listeners'),
    addresses: z.array(GatewayAddress).max(16).optional(),
    infrastructure: z
      .strictObject({ labels: infraMap(63).optional(), annotations: infraMap(4096).optional(), parametersRef: ParametersReference.optional() })
      .optional(),
  })
  .superRefine((g, ctx) => {
    const names = new Map<string, number>();
    const combos = new Map<string, number>();
    g.listeners.forEach((l, i) => {
      const proto = l.protocol;
      if (names.has(l.name)) ctx.addIssue({ code: 'custom', path: ['listeners', i, 'name'], message: `listener name "${l.name}" is not unique (also listeners[${names.get(l.name)}])` });
      names.set(l.name, i);
      const combo = `${l.port}/${proto}/${l.hostname ?? ''}`;
      if (combos.has(combo)) ctx.addIssue({ code: 'custom', path: ['listeners', i], message: `combination of port, protocol and hostname must be unique (same as listeners[${combos.get(combo)}])` });
      combos.set(combo, i);
      if (['HTTP', 'TCP', 'UDP'].includes(proto) && l.tls) ctx.addIssue({ code: 'custom', path: ['listeners', i, 'tls'], message: `must not be specified for protocol ${proto}` });
      if (proto === 'HTTPS' && l.tls && l.tls.mode !== 'Terminate') ctx.addIssue({ code: 'custom', path: ['listeners', i, 'tls', 'mode'], message: 'must be Terminate for protocol HTTPS' });
      if ((proto === 'HTTPS' || proto === 'TLS') && !l.tls) ctx.addIssue({ code: 'custom', path: ['listeners', i, 'tls'], message: `is required for protocol ${proto}` });
      if (['TCP', 'UDP'].includes(proto) && l.hostname) ctx.addIssue({ code: 'custom', path: ['listeners', i, 'hostname'], message: `must not be specified for protocol ${proto}` });
    });
    const seen = new Set<string>();
    (g.addresses ?? []).forEach((a, i) => {
      const k = `${a.type}/${a.value ?? ''}`;
      if (a.value !== undefined && seen.has(k)) ctx.addIssue({ code: 'custom', path: ['addresses', i, 'value'], message: `${a.type} values must be unique` });
      seen.add(k);
    });
  });

// built when the first resource of its kind is validated (lazy.ts)
export const referenceGrantSpec = lazy(() => {
  const ReferenceGrantSpec = z.strictObject({
    from: z.array(z.strictObject({ group: group(), kind: kind(), namespace: dnsLabel() })).min(1, 'must have at least one item').max(16),
    to: z.array(z.strictObject({ group: group(), kind: kind(), name: objectName().optional() })).min(1, 'must have at least one item').max(16),
  });
  return ReferenceGrantSpec;
});

export type GatewayClassSpec = z.output<ReturnType<typeof gatewayClassSpec>>;
export type GatewaySpec = z.output<typeof GatewaySpec>;
export type ReferenceGrantSpec = z.output<ReturnType<typeof referenceGrantSpec>>;

