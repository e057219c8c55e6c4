/**
 * Renders the CustomResourceDefinitions of crd-table.ts, each version's `openAPIV3Schema` generated from
 * the zod schema Weft validates that kind with (core/config/kinds.ts), so the API server and Weft agree on
 * field names and types by construction. Every served version has the same schema: Weft reads them all
 * with one (design.md 4), and upstream's versions differ only in name.
 */
import * as z from '../../../core/config/schema/zod.ts';
import { KIND_DEFS } from '../../../core/config/kinds.ts';
import { CRDS, type CrdEntry, type CrdSet } from './crd-table.ts';
import { toStructural, type Schema } from './structural-schema.ts';

const AGE = { name: 'Age', jsonPath: '.metadata.creationTimestamp', type: 'date' };

/** The zod schema of one CRD's spec. */
function specSchema(e: CrdEntry): z.ZodType {
  const group = e.schemaGroup ?? e.group;
  const def = KIND_DEFS.find((d) => d.kind === e.kind && d.group === group);
  if (!def) throw new Error(`no schema for ${group}/${e.kind} in core/config/kinds.ts`);
  const shape = (def.schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
  if (!shape?.['spec']) throw new Error(`${group}/${e.kind}: its schema has no spec`);
  return shape['spec'];
}

export function openApiSchema(e: CrdEntry): Schema {
  const json = z.toJSONSchema(specSchema(e), { io: 'input', unrepresentable: 'any', target: 'draft-7' }) as Schema;
  return {
    type: 'object',
    description: `${e.kind} (${e.group}), as Weft reads it: the schema is generated from Weft's validation (scripts/gen-crds.mjs). Unknown fields are kept, and Weft reports them.`,
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: toStructural(json),
      status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
}

export function crdObject(e: CrdEntry): Record<string, unknown> {
  const schema = openApiSchema(e);
  const singular = e.kind.toLowerCase();
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${e.plural}.${e.group}`,
      labels: { 'app.kubernetes.io/part-of': 'weft' },
      ...(e.annotations ? { annotations: { ...e.annotations } } : {}),
    },
    spec: {
      group: e.group,
      names: {
        kind: e.kind,
        listKind: `${e.kind}List`,
        plural: e.plural,
        singular,
        ...(e.shortNames ? { shortNames: e.shortNames } : {}),
        ...(e.categories ? { categories: e.categories } : {}),
      },
      scope: e.scope,
      versions: e.versions.map((v) => ({
        name: v.name,
        served: true,
        storage: v.storage === true,
        additionalPrinterColumns: [...(v.columns ?? []), AGE],
        schema: { openAPIV3Schema: schema },
        ...(e.status ? { subresources: { status: {} } } : {}),
      })),
    },
  };
}

export function renderCrds(sets: Readonly<Record<CrdSet, boolean>>): Record<string, unknown>[] {
  return CRDS.filter((e) => sets[e.set]).map(crdObject);
}
