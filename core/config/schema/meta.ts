/**
 * ObjectMeta and the top-level shape shared by every kind (`apiVersion`, `kind`, `metadata`, `spec`,
 * `status`). Names follow Kubernetes' rules per kind: most are DNS-1123 subdomains, Namespaces DNS-1123
 * labels, Services DNS-1035 labels. Status is accepted and ignored: controllers write it, users rarely do
 * (Pods are the exception; their schema reads status itself).
 */
import * as z from './zod.ts';
import { dns1035Problem, dnsLabel, dnsLabelProblem, dnsSubdomainProblem, labelMap, stringMap } from './common.ts';

export type NameRule = 'subdomain' | 'label' | 'dns1035';

const NAME_PROBLEM: Record<NameRule, (s: string) => string | undefined> = {
  subdomain: dnsSubdomainProblem,
  label: dnsLabelProblem,
  dns1035: dns1035Problem,
};

const OwnerReference = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string(),
  name: z.string(),
  uid: z.string().optional(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});

function objectMeta(rule: NameRule) {
  return z.strictObject({
    name: z.string().superRefine((s, ctx) => {
      const p = NAME_PROBLEM[rule](s);
      if (p) ctx.addIssue({ code: 'custom', message: p });
    }),
    generateName: z.string().optional(),
    namespace: dnsLabel().optional(),
    labels: labelMap().optional(),
    annotations: stringMap().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    generation: z.int().optional(),
    // Written by the API server; kept as read (a string, or a date from a YAML 1.1 tag).
    creationTimestamp: z.unknown().optional(),
    deletionTimestamp: z.unknown().optional(),
    deletionGracePeriodSeconds: z.int().optional(),
    ownerReferences: z.array(OwnerReference).optional(),
    finalizers: z.array(z.string()).optional(),
    managedFields: z.unknown().optional(),
    selfLink: z.string().optional(),
  });
}

const META: Record<NameRule, ReturnType<typeof objectMeta>> = {
  subdomain: objectMeta('subdomain'),
  label: objectMeta('label'),
  dns1035: objectMeta('dns1035'),
};

export type ObjectMeta = z.output<ReturnType<typeof objectMeta>>;

export interface ResourceShapeOptions {
  nameRule?: NameRule;
  /** Kinds whose status Weft reads (Pod): a schema instead of "anything". */
  status?: z.ZodType;
}

/**
 * The whole-object schema for one kind. `spec` is parsed even when absent (`prefault`), so a missing
 * required spec field is reported as `spec.field: is required` rather than a bare missing spec.
 */
export function resourceShape<S extends z.ZodType>(spec: S, opts: ResourceShapeOptions = {}) {
  return z.strictObject({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: META[opts.nameRule ?? 'subdomain'],
    spec: spec.prefault({} as never),
    status: (opts.status ?? z.unknown()).optional(),
  });
}

/** Kinds without a spec (Secret, ConfigMap, EndpointSlice, ServiceAccount): their data sits at the top. */
export function specLessShape<E extends z.ZodRawShape>(extra: E, opts: ResourceShapeOptions = {}) {
  return z.strictObject({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: META[opts.nameRule ?? 'subdomain'],
    status: (opts.status ?? z.unknown()).optional(),
    ...extra,
  });
}
