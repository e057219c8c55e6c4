/**
 * networking.istio.io Gateway, ServiceEntry and WorkloadEntry (Istio 1.29), with the CRDs' CEL rules
 * and istiod's checks on protocols, server hosts and TLS settings.
 */
import * as z from './zod.ts';
import { lazy } from './lazy.ts';
import { DNS_LABEL, bool, intRange, port, stringList, stringMap, uint32 } from './common.ts';
import { exportTo, istioHost, istioHostProblem } from './istio-common.ts';
import { isCIDR, isIP, isIPOrCIDR } from '../../net/ip.ts';

/** Istio protocol names (protocol.Parse), case-insensitive as istiod reads them. */
export const ISTIO_PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'HTTP_PROXY', 'MONGO', 'MYSQL', 'REDIS', 'TCP', 'TLS', 'UDP'] as const;
const protocol = () =>
  z.string().superRefine((s, ctx) => {
    if (!(ISTIO_PROTOCOLS as readonly string[]).includes(s.toUpperCase())) {
      ctx.addIssue({ code: 'custom', message: `"${s}" is not a protocol (one of ${ISTIO_PROTOCOLS.join(', ')})` });
    }
  });

const PortSpec = z.strictObject({
  number: port(),
  protocol: protocol(),
  name: z.string().min(1, 'must not be empty'),
  targetPort: port().optional(),
});

const ServerTLSSettings = z
  .strictObject({
    httpsRedirect: bool().optional(),
    mode: z.enum(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL']).optional(),
    serverCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
    caCrl: z.string().optional(),
    credentialName: z.string().optional(),
    credentialNames: stringList().min(1, 'must have at least one item').max(2, 'must have at most 2 items').optional(),
    tlsCertificates: z
      .array(z.strictObject({ serverCertificate: z.string().optional(), privateKey: z.string().optional(), caCertificates: z.string().optional() }))
      .min(1, 'must have at least one item')
      .max(2, 'must have at most 2 items')
      .optional(),
    caCertCredentialName: z.string().optional(),
    subjectAltNames: stringList().optional(),
    verifyCertificateSpki: stringList().optional(),
    verifyCertificateHash: stringList().optional(),
    minProtocolVersion: z.enum(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']).optional(),
    maxProtocolVersion: z.enum(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']).optional(),
    cipherSuites: stringList().optional(),
  })
  .superRefine((t, ctx) => {
    const set = (['credentialName', 'credentialNames', 'tlsCertificates'] as const).filter((k) => t[k] !== undefined);
    if (set.length > 1) ctx.addIssue({ code: 'custom', message: `only one of credentialName, credentialNames, tlsCertificates may be set (found ${set.join(', ')})` });
    const needsCert = t.mode === 'SIMPLE' || t.mode === 'MUTUAL' || t.mode === 'OPTIONAL_MUTUAL';
    if (needsCert && set.length === 0 && (!t.serverCertificate || !t.privateKey)) {
      ctx.addIssue({ code: 'custom', message: `${t.mode} mode needs credentialName, or serverCertificate and privateKey` });
    }
  });

/** Gateway server hosts: `[namespace/]host`, namespace one of `*`, `.`, `~` or a name. */
function serverHostProblem(h: string): string | undefined {
  const parts = h.split('/');
  if (parts.length > 2) return `"${h}" must be host or namespace/host`;
  if (parts.length === 2) {
    const ns = parts[0]!;
    if (ns !== '*' && ns !== '.' && ns !== '~' && !DNS_LABEL.test(ns)) return `"${ns}" must be *, ., ~ or a namespace name`;
  }
  return istioHostProblem(parts[parts.length - 1]!);
}

const Server = z
  .strictObject({
    port: PortSpec,
    bind: z.string().optional(),
    hosts: z
      .array(
        z.string().superRefine((s, ctx) => {
          const p = serverHostProblem(s);
          if (p) ctx.addIssue({ code: 'custom', message: p });
        }),
      )
      .min(1, 'must have at least one host'),
    tls: ServerTLSSettings.optional(),
    defaultEndpoint: z.string().optional(),
    name: z.string().optional(),
  })
  .superRefine((s, ctx) => {
    const p = s.port.protocol.toUpperCase();
    if ((p === 'HTTPS' || p === 'TLS') && !s.tls) ctx.addIssue({ code: 'custom', path: ['tls'], message: `is required for protocol ${p}` });
    if (s.tls?.httpsRedirect && p !== 'HTTP' && p !== 'HTTPS') ctx.addIssue({ code: 'custom', path: ['tls', 'httpsRedirect'], message: 'applies only to HTTP servers' });
  });

export const IstioGatewaySpec = z.strictObject({
  servers: z.array(Server).optional(),
  selector: stringMap().optional(),
});

const workloadPorts = () =>
  z.record(z.string(), intRange(1, 65535)).superRefine((m, ctx) => {
    for (const k of Object.keys(m)) {
      if (k.length >= 63 || !/^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'port name must be valid (letters, digits and -)' });
    }
  });

const workloadAddress = () =>
  z
    .string()
    .max(256, 'must be at most 256 characters')
    .superRefine((a, ctx) => {
      if (a.startsWith('unix://')) {
        const rest = a.slice(7);
        if (!rest.startsWith('/') && !rest.startsWith('@')) ctx.addIssue({ code: 'custom', message: 'a unix address must be an absolute path or an abstract socket' });
        return;
      }
      if (!isIP(a) && istioHostProblem(a, { allowIP: false })) ctx.addIssue({ code: 'custom', message: `"${a}" is not an IP address or host name` });
    });

const workloadEntryShape = {
  address: workloadAddress().optional(),
  ports: workloadPorts().optional(),
  labels: stringMap().optional(),
  network: z.string().max(2048).optional(),
  locality: z.string().max(2048).optional(),
  weight: uint32().optional(),
  serviceAccount: z.string().max(253).optional(),
};
const checkWorkloadEntry = (w: { address?: string; network?: string; ports?: unknown }, ctx: z.core.$RefinementCtx<unknown>) => {
  if (w.address === undefined && w.network === undefined) ctx.addIssue({ code: 'custom', path: ['address'], message: 'is required' });
  if (w.address?.startsWith('unix://') && w.ports !== undefined) ctx.addIssue({ code: 'custom', path: ['ports'], message: 'a unix address may not have ports' });
};

export const WorkloadEntrySpec = z.strictObject(workloadEntryShape).superRefine(checkWorkloadEntry);

// built when the first resource of its kind is validated (lazy.ts)
export const serviceEntrySpec = lazy(() => {
  const ServicePort = z.strictObject({
    number: port(),
    protocol: protocol().optional(),
    name: z.string().min(1, 'must not be empty').max(256),
    targetPort: port().optional(),
  });

  const ServiceEntrySpec = z
    .strictObject({
      hosts: z.array(istioHost({ allowIP: false })).min(1, 'must have at least one host').max(256),
      addresses: z
        .array(
          z.string().superRefine((s, ctx) => {
            if (!isIPOrCIDR(s)) ctx.addIssue({ code: 'custom', message: `"${s}" is not an IP address or CIDR block` });
          }),
        )
        .max(256)
        .optional(),
      ports: z.array(ServicePort).max(256).optional(),
      location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL']).default('MESH_EXTERNAL'),
      resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']).default('NONE'),
      endpoints: z.array(z.strictObject(workloadEntryShape).superRefine(checkWorkloadEntry)).max(4096).optional(),
      workloadSelector: z.strictObject({ labels: stringMap().optional() }).optional(),
      exportTo: exportTo(),
      subjectAltNames: stringList().optional(),
    })
    .superRefine((s, ctx) => {
      s.hosts.forEach((h, i) => {
        if (h === '*') ctx.addIssue({ code: 'custom', path: ['hosts', i], message: 'the host cannot be the wildcard *' });
      });
      if (s.workloadSelector && s.endpoints) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'only one of workloadSelector, endpoints may be set' });
      if ((s.addresses ?? []).some(isCIDR) && s.resolution !== 'NONE' && s.resolution !== 'STATIC') {
        ctx.addIssue({ code: 'custom', path: ['addresses'], message: 'CIDR addresses are allowed only with resolution NONE or STATIC' });
      }
      if (s.resolution === 'NONE' && s.endpoints) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'must not be set with resolution NONE' });
      if (s.resolution === 'DNS_ROUND_ROBIN' && (s.endpoints?.length ?? 0) > 1) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'DNS_ROUND_ROBIN allows at most one endpoint' });
      if (s.resolution === 'STATIC') {
        (s.endpoints ?? []).forEach((e, i) => {
          if (e.address && !isIP(e.address) && !e.address.startsWith('unix://')) ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'address'], message: 'must be an IP address with resolution STATIC' });
        });
      }
      const numbers = new Map<number, number>();
      (s.ports ?? []).forEach((p, i) => {
        if (numbers.has(p.number)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'number'], message: `port ${p.number} is duplicated (also ports[${numbers.get(p.number)}])` });
        numbers.set(p.number, i);
      });
    });
  return ServiceEntrySpec;
});

export type IstioGatewaySpec = z.output<typeof IstioGatewaySpec>;
export type ServiceEntrySpec = z.output<ReturnType<typeof serviceEntrySpec>>;
export type WorkloadEntrySpec = z.output<typeof WorkloadEntrySpec>;
