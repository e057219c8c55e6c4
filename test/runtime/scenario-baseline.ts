/**
 * Stand-in pipeline for the runtime scenario while core/config and core/xds are being written: the
 * same libraries core uses (yaml, zod jitless) driven the way core will drive them, core/identity's
 * SPIFFE ids and core/xds's generated static encoders (protobufjs/minimal underneath), so Deno and workerd already prove they load and behave alike. Replace it with the core
 * pipeline (scenario.ts says how) once those modules land; nothing else depends on this file.
 */
import { LineCounter, parseAllDocuments } from 'yaml';
import { z } from 'zod';
import type { ConfigIssue } from '../../core/config/issues.ts';
import { formatWorkloadIdentity, parseWorkloadIdentity } from '../../core/identity/index.ts';
import { istio } from '../../core/xds/generated/xds-pb.js';
import type { SourceFile } from '../../core/ports/index.ts';
import type { PipelineOutput } from './scenario.ts';

// Code generation from strings is forbidden in workerd; zod must validate without its JIT.
z.config({ jitless: true });

const meta = z.object({ name: z.string().min(1), namespace: z.string().default(''), labels: z.record(z.string(), z.string()).default({}) });
const port = z.number().int().min(1).max(65535);
const schemas = {
  Namespace: z.object({ metadata: meta }),
  ConfigMap: z.object({ metadata: meta, data: z.record(z.string(), z.string()).default({}) }),
  Service: z.object({
    metadata: meta,
    spec: z.object({
      clusterIP: z.string().optional(),
      selector: z.record(z.string(), z.string()).optional(),
      ports: z.array(z.object({ name: z.string().optional(), port, targetPort: z.union([port, z.string()]).optional() })).min(1),
    }),
  }),
  Pod: z.object({
    metadata: meta,
    spec: z.object({
      nodeName: z.string(),
      serviceAccountName: z.string().default('default'),
      containers: z.array(z.object({ ports: z.array(z.object({ name: z.string().optional(), containerPort: port })).default([]) })),
    }),
    status: z.object({ podIP: z.string() }),
  }),
  WorkloadEntry: z.object({
    metadata: meta,
    spec: z.object({ address: z.string(), serviceAccount: z.string().default('default') }),
  }),
};
type Kind = keyof typeof schemas;
type Parsed = { [K in Kind]: { kind: K; value: z.infer<(typeof schemas)[K]> } }[Kind];

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

function parse(files: readonly SourceFile[], issues: ConfigIssue[]): Parsed[] {
  const out: Parsed[] = [];
  for (const file of files) {
    const lines = new LineCounter();
    for (const doc of parseAllDocuments(file.text, { lineCounter: lines })) {
      const lineOf = (path: readonly PropertyKey[]): number => {
        const node = doc.getIn(path as unknown[], true) as { range?: [number] } | undefined;
        return lines.linePos(node?.range?.[0] ?? doc.range[0]).line;
      };
      if (doc.errors.length) {
        for (const e of doc.errors) issues.push({ severity: 'error', file: file.path, line: e.linePos?.[0]?.line ?? 0, path: '', message: e.message });
        continue;
      }
      const raw = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null;
      if (!raw) continue;
      const resource = { kind: String(raw.kind), namespace: raw.metadata?.namespace ?? '', name: raw.metadata?.name ?? '' };
      const schema = schemas[raw.kind as Kind];
      if (!schema) {
        issues.push({ severity: 'warning', file: file.path, line: lineOf(['kind']), resource, path: 'kind', message: `kind ${resource.kind} is not used by Weft` });
        continue;
      }
      const result = schema.safeParse(raw);
      if (!result.success) {
        for (const e of result.error.issues) issues.push({ severity: 'error', file: file.path, line: lineOf(e.path), resource, path: fieldPath(e.path), message: e.message });
        continue;
      }
      out.push({ kind: raw.kind, value: result.data } as Parsed);
    }
  }
  return out;
}

function ipv4(address: string): Uint8Array {
  return Uint8Array.from(address.split('.').map(Number));
}

/** The static encoders core/xds uses (generated at build time, no reflection at run time). */
function encodeAddress(address: istio.workload.Address.$Properties): Uint8Array {
  return istio.workload.Address.encode(address).finish();
}

export function baselinePipeline(files: readonly SourceFile[]): PipelineOutput {
  const issues: ConfigIssue[] = [];
  const parsed = parse(files, issues);
  const byKind = <K extends Kind>(kind: K) => parsed.filter((p) => p.kind === kind).map((p) => p.value as z.infer<(typeof schemas)[K]>);
  const meshText = byKind('ConfigMap').find((c) => c.metadata.name === 'istio' && c.metadata.namespace === 'istio-system')?.data.mesh;
  const td = /trustDomain:\s*(\S+)/.exec(meshText ?? '')?.[1] ?? 'cluster.local';
  const workloads = [
    ...byKind('Pod').map((p) => ({
      uid: `Kubernetes//Pod/${p.metadata.namespace}/${p.metadata.name}`,
      ...p.metadata,
      address: p.status.podIP,
      node: p.spec.nodeName,
      sa: p.spec.serviceAccountName,
      td,
      named: Object.fromEntries(p.spec.containers.flatMap((c) => c.ports).map((x) => [x.name ?? '', x.containerPort])),
    })),
    ...byKind('WorkloadEntry').map((w) => ({
      uid: `Kubernetes/networking.istio.io/WorkloadEntry/${w.metadata.namespace}/${w.metadata.name}`,
      ...w.metadata,
      address: w.spec.address,
      node: w.metadata.labels['weft.io/node'] ?? '',
      sa: w.spec.serviceAccount,
      td,
      named: {} as Record<string, number>,
    })),
  ].sort((a, b) => a.uid.localeCompare(b.uid));
  const services = byKind('Service').map((s) => {
    const selector = Object.entries(s.spec.selector ?? {});
    const backends = workloads.filter((w) => w.namespace === s.metadata.namespace && selector.every(([k, v]) => w.labels[k] === v));
    return {
      name: s.metadata.name,
      namespace: s.metadata.namespace,
      hostname: `${s.metadata.name}.${s.metadata.namespace}.svc.cluster.local`,
      vip: s.spec.clusterIP ?? '0.0.0.0',
      ports: s.spec.ports.map((p): [number, number] => [p.port, typeof p.targetPort === 'number' ? p.targetPort : (backends[0]?.named[p.targetPort ?? ''] ?? p.port)]),
      backends,
    };
  });
  const identity = (w: (typeof workloads)[number]): string => formatWorkloadIdentity({ trustDomain: td, namespace: w.namespace, serviceAccount: w.sa });
  const workloadBytes = workloads.map((w) =>
    encodeAddress({
      workload: {
        uid: w.uid,
        name: w.name,
        namespace: w.namespace,
        addresses: [ipv4(w.address)],
        tunnelProtocol: istio.workload.TunnelProtocol.HBONE,
        trustDomain: td,
        serviceAccount: w.sa,
        node: w.node,
        clusterId: 'Kubernetes',
        workloadType: istio.workload.WorkloadType.POD,
        services: Object.fromEntries(services.filter((s) => s.backends.includes(w)).map((s) => [`${s.namespace}/${s.hostname}`, { ports: s.ports.map(([servicePort, targetPort]) => ({ servicePort, targetPort })) }])),
      },
    }),
  );
  const serviceBytes = services.map((s) =>
    encodeAddress({
      service: {
        name: s.name,
        namespace: s.namespace,
        hostname: s.hostname,
        addresses: [{ network: '', address: ipv4(s.vip) }],
        ports: s.ports.map(([servicePort, targetPort]) => ({ servicePort, targetPort })),
        subjectAltNames: [...new Set(s.backends.map(identity))].sort(),
      },
    }),
  );
  // Decode what was encoded, and read the identities back: both halves must work in every runtime.
  workloadBytes.forEach((bytes, i) => {
    const back = istio.workload.Address.decode(bytes).workload;
    if (back?.uid !== workloads[i]!.uid || back.addresses?.[0]?.join('.') !== workloads[i]!.address) throw new Error('protobuf round trip lost a workload');
  });
  if (!workloads.every((w) => parseWorkloadIdentity(identity(w)).ok)) throw new Error('a workload identity does not parse back');
  return {
    pipeline: 'baseline: yaml + zod, core/identity, core/xds static encoders (core/config and core/xds translation not in the tree yet)',
    issues,
    resourceCounts: Object.fromEntries(Object.keys(schemas).map((k) => [k, byKind(k as Kind).length])),
    snapshot: {
      version: 1,
      trustDomain: td,
      services: services.map((s) => `${s.namespace}/${s.hostname}:${s.backends.length}`),
      workloads: workloads.map((w) => `${w.uid}@${w.node} ${identity(w)}`),
    },
    xds: [
      { typeUrl: 'type.googleapis.com/istio.workload.Address', resources: [...serviceBytes, ...workloadBytes] },
    ],
  };
}
