/**
 * The rules a CRD's `openAPIV3Schema` must follow to be accepted by the API server (apiextensions.k8s.io/v1)
 * and to be structural, as far as Weft's generated schemas rely on them; `scripts/gen-crds.mjs` refuses to
 * write a schema that breaks one, and the manifest test checks every rendered CRD again.
 * https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
 */
import type { Schema } from './structural-schema.ts';

/** Fields of JSONSchemaProps that a v1 CRD accepts (id, $schema, $ref, definitions, dependencies, patternProperties, additionalItems are refused). */
const ALLOWED = new Set([
  'description', 'type', 'format', 'title', 'default', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'multipleOf', 'enum', 'maxProperties',
  'minProperties', 'required', 'items', 'allOf', 'oneOf', 'anyOf', 'not', 'properties', 'additionalProperties',
  'externalDocs', 'example', 'nullable', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource',
  'x-kubernetes-int-or-string', 'x-kubernetes-list-map-keys', 'x-kubernetes-list-type', 'x-kubernetes-map-type',
  'x-kubernetes-validations',
]);
const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);
/** Inside anyOf/oneOf/allOf/not a structural schema may only restrict values, never type or shape them. */
const NOT_IN_JUNCTOR = ['type', 'default', 'additionalProperties', 'description', 'nullable'];
/** Go's RE2 (the API server's regexps) has no lookaround and no backreferences. */
const NOT_RE2 = /\(\?<?[=!]|\\[1-9]/;

const isObj = (x: unknown): x is Schema => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Every problem found, each as `path: message`; empty when the schema is fine. */
export function structuralProblems(root: Schema): string[] {
  const out: string[] = [];
  if (root['type'] !== 'object') out.push('(root): type must be object');
  const meta = isObj(root['properties']) ? (root['properties'] as Schema)['metadata'] : undefined;
  if (isObj(meta)) {
    const extra = Object.keys(isObj(meta['properties']) ? meta['properties'] : {}).filter((k) => k !== 'name' && k !== 'generateName');
    if (extra.length) out.push(`metadata: only name and generateName may be restricted, not ${extra.join(', ')}`);
  }
  walk(root, '', false, out);
  return out;
}

function walk(s: Schema, path: string, inJunctor: boolean, out: string[]): void {
  const at = path || '(root)';
  for (const k of Object.keys(s)) if (!ALLOWED.has(k)) out.push(`${at}: ${k} is not allowed in a CRD schema`);
  const intOrString = s['x-kubernetes-int-or-string'] === true;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (inJunctor) {
    for (const k of NOT_IN_JUNCTOR) if (k in s && !(k === 'type' && inIntOrStringJunctor(s))) out.push(`${at}: ${k} inside anyOf/oneOf/allOf/not`);
  } else if (s['type'] === undefined) {
    if (!intOrString && !preserve) out.push(`${at}: no type (and neither x-kubernetes-int-or-string nor x-kubernetes-preserve-unknown-fields)`);
  } else if (typeof s['type'] !== 'string' || !TYPES.has(s['type'])) {
    out.push(`${at}: type ${JSON.stringify(s['type'])} is not one of ${[...TYPES].join(', ')}`);
  }
  if (s['uniqueItems'] === true) out.push(`${at}: uniqueItems: true is refused (quadratic)`);
  if (s['properties'] !== undefined && s['additionalProperties'] !== undefined) out.push(`${at}: properties and additionalProperties together`);
  if (s['type'] === 'array' && !isObj(s['items']) && !inJunctor) out.push(`${at}: an array needs one items schema`);
  if (typeof s['pattern'] === 'string') {
    if (NOT_RE2.test(s['pattern'])) out.push(`${at}: pattern ${s['pattern']} uses lookaround or backreferences (not RE2)`);
    try {
      new RegExp(s['pattern'], 'u');
    } catch (e) {
      out.push(`${at}: pattern ${s['pattern']} does not compile: ${(e as Error).message}`);
    }
  }
  if (intOrString && !inJunctor) {
    const any = s['anyOf'];
    const ok = Array.isArray(any) && any.length === 2 && any.some((b) => isObj(b) && b['type'] === 'integer') && any.some((b) => isObj(b) && b['type'] === 'string');
    if (s['anyOf'] !== undefined && !ok) out.push(`${at}: x-kubernetes-int-or-string with an anyOf other than [integer, string]`);
  }
  if (isObj(s['properties'])) for (const [k, v] of Object.entries(s['properties'])) walk(v as Schema, `${path}.${k}`, inJunctor, out);
  if (isObj(s['additionalProperties'])) walk(s['additionalProperties'], `${path}.*`, inJunctor, out);
  if (isObj(s['items'])) walk(s['items'], `${path}[]`, inJunctor, out);
  for (const j of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(s[j])) (s[j] as Schema[]).forEach((b, i) => walk(b, `${path}.${j}[${i}]`, true, out));
  }
  if (isObj(s['not'])) walk(s['not'], `${path}.not`, true, out);
}

/** The one typed junctor Kubernetes allows: `x-kubernetes-int-or-string` with anyOf [integer, string]. */
function inIntOrStringJunctor(s: Schema): boolean {
  return Object.keys(s).length === 1 && (s['type'] === 'integer' || s['type'] === 'string');
}
