/**
 * JSON Schema (what zod 4's `z.toJSONSchema` writes from Weft's own config schemas) to a Kubernetes
 * structural schema for a CRD's `openAPIV3Schema` (apiextensions.k8s.io/v1 JSONSchemaProps):
 * every node typed, no `$ref`/`const`/`propertyNames`/`default`, `properties` and
 * `additionalProperties` never together, unions folded into what Kubernetes can express
 * (enum, int-or-string, or an open node).
 * https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
 *
 * Every object keeps its unknown fields (`x-kubernetes-preserve-unknown-fields`): the API server must
 * not prune a field Weft does not model yet, or a user's field would vanish without a word. Weft's own
 * validation reads the stored object and reports the field it does not know (design.md 4: partial
 * support is a warning, never silent). Defaults are left out for the same reason: the API server would
 * write them into users' objects; Weft applies its defaults when it reads.
 */

export type Schema = Record<string, unknown>;

const PRESERVE = 'x-kubernetes-preserve-unknown-fields';
const INT_OR_STRING = 'x-kubernetes-int-or-string';
/** `format` values the API server knows; others are dropped rather than rejected or misread. */
const FORMATS = new Set(['date-time', 'date', 'byte', 'int32', 'int64', 'float', 'double', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'uuid', 'duration']);
const COPY_STRING = ['minLength', 'maxLength', 'pattern'] as const;
const COPY_NUMBER = ['minimum', 'maximum', 'multipleOf'] as const;

const open = (): Schema => ({ [PRESERVE]: true });
const isObj = (x: unknown): x is Schema => typeof x === 'object' && x !== null && !Array.isArray(x);

export function toStructural(input: Schema): Schema {
  const s = { ...input };
  const description = typeof s['description'] === 'string' ? { description: s['description'] } : {};
  if (Array.isArray(s['type'])) return { ...description, ...fromTypeList(s) };
  const union = (s['anyOf'] ?? s['oneOf']) as Schema[] | undefined;
  if (union) return { ...description, ...fromUnion(union) };
  if (s['allOf']) return { ...description, ...fromUnion(s['allOf'] as Schema[], true) };
  if ('const' in s) return { ...description, ...fromEnum(s['type'], [s['const']]) };
  switch (s['type']) {
    case 'object':
      return { ...description, ...fromObject(s) };
    case 'array':
      return { ...description, type: 'array', items: isObj(s['items']) ? toStructural(s['items']) : open(), ...pick(s, ['minItems', 'maxItems']) };
    case 'string':
      return { ...description, type: 'string', ...pick(s, COPY_STRING), ...format(s), ...enumOf(s) };
    case 'integer':
    case 'number':
      return { ...description, type: s['type'], ...pick(s, COPY_NUMBER), ...exclusive(s), ...enumOf(s) };
    case 'boolean':
      return { ...description, type: 'boolean', ...enumOf(s) };
    default:
      // z.unknown(), z.any(), an unrepresentable custom type: anything goes, Weft checks it
      return { ...description, ...open() };
  }
}

function fromObject(s: Schema): Schema {
  const props = isObj(s['properties']) ? s['properties'] : {};
  const names = Object.keys(props);
  const extra = s['additionalProperties'];
  if (names.length === 0 && isObj(extra) && Object.keys(extra).length > 0) {
    // a map (z.record): its values typed, its keys free (Kubernetes has no propertyNames)
    return { type: 'object', additionalProperties: toStructural(extra), ...pick(s, ['minProperties', 'maxProperties']) };
  }
  const out: Schema = { type: 'object' };
  if (names.length > 0) out['properties'] = Object.fromEntries(names.map((n) => [n, toStructural(props[n] as Schema)]));
  // zod lists z.unknown() fields as required, though they accept a missing value: not required here
  const accepts = (n: string) => Object.keys(props[n] as Schema).every((k) => k === 'description');
  const required = Array.isArray(s['required']) ? (s['required'] as string[]).filter((r) => names.includes(r) && !accepts(r)) : [];
  if (required.length > 0) out['required'] = required;
  Object.assign(out, pick(s, ['minProperties', 'maxProperties']));
  out[PRESERVE] = true;
  return out;
}

/** `type: [string, null]` (draft-7 nullable). */
function fromTypeList(s: Schema): Schema {
  const types = (s['type'] as string[]).filter((t) => t !== 'null');
  const nullable = types.length < (s['type'] as string[]).length;
  const base = types.length === 1 ? toStructural({ ...s, type: types[0] }) : fromUnion(types.map((type) => ({ ...s, type })));
  return nullable ? { ...base, nullable: true } : base;
}

function fromUnion(branches: Schema[], all = false): Schema {
  const nonNull = branches.filter((b) => b['type'] !== 'null');
  const nullable = nonNull.length < branches.length ? { nullable: true } : {};
  if (nonNull.length === 1) return { ...toStructural(nonNull[0]!), ...nullable };
  const types = new Set(nonNull.map((b) => b['type']));
  // literal unions (z.literal(301).or(z.literal(302)), z.enum pieces): one enum
  if (types.size === 1 && nonNull.every((b) => 'const' in b || Array.isArray(b['enum']))) {
    return { ...fromEnum([...types][0], nonNull.flatMap((b) => ('const' in b ? [b['const']] : (b['enum'] as unknown[])))), ...nullable };
  }
  if (types.size === 2 && types.has('string') && (types.has('integer') || types.has('number'))) {
    return { [INT_OR_STRING]: true, anyOf: [{ type: 'integer' }, { type: 'string' }], ...nullable };
  }
  if (types.size === 1 && types.has('object')) return { ...mergeObjects(nonNull, all), ...nullable };
  return { ...open(), ...nullable };
}

/**
 * Alternatives of objects become one object with every branch's fields (structural schemas forbid
 * typed fields inside anyOf): looser than the union, never stricter; Weft's validation tells the
 * branches apart. A field whose type differs between branches is left open.
 */
function mergeObjects(branches: Schema[], all: boolean): Schema {
  const props = new Map<string, Schema>();
  let required: string[] | undefined;
  for (const b of branches) {
    const bp = isObj(b['properties']) ? b['properties'] : {};
    for (const [k, v] of Object.entries(bp)) {
      const next = toStructural(v as Schema);
      const prev = props.get(k);
      props.set(k, prev === undefined || JSON.stringify(prev) === JSON.stringify(next) ? next : open());
    }
    const r = Array.isArray(b['required']) ? (b['required'] as string[]) : [];
    // allOf: every branch's required fields; anyOf: only those all branches require
    required = required === undefined ? r : all ? [...new Set([...required, ...r])] : required.filter((x) => r.includes(x));
  }
  const out: Schema = { type: 'object' };
  if (props.size > 0) out['properties'] = Object.fromEntries(props);
  if (required && required.length > 0) out['required'] = required;
  out[PRESERVE] = true;
  return out;
}

function fromEnum(type: unknown, values: unknown[]): Schema {
  const t = typeof type === 'string' ? type : typeof values[0] === 'number' ? 'number' : typeof values[0] === 'boolean' ? 'boolean' : 'string';
  return { type: t, enum: [...new Set(values)] };
}

function enumOf(s: Schema): Schema {
  return Array.isArray(s['enum']) ? { enum: s['enum'] } : {};
}

function format(s: Schema): Schema {
  return typeof s['format'] === 'string' && FORMATS.has(s['format']) ? { format: s['format'] } : {};
}

/** draft-7's numeric exclusive bounds to OpenAPI 3.0's boolean form. */
function exclusive(s: Schema): Schema {
  const out: Schema = {};
  if (typeof s['exclusiveMinimum'] === 'number') Object.assign(out, { minimum: s['exclusiveMinimum'], exclusiveMinimum: true });
  if (typeof s['exclusiveMaximum'] === 'number') Object.assign(out, { maximum: s['exclusiveMaximum'], exclusiveMaximum: true });
  return out;
}

function pick(s: Schema, keys: readonly string[]): Schema {
  return Object.fromEntries(keys.filter((k) => s[k] !== undefined).map((k) => [k, s[k]]));
}
