/**
 * One object in, one verdict out: the resource with its defaults applied, or its errors; plus warnings
 * (unknown fields, fields Weft does not support yet, unknown kinds). Context-free, so the Store can cache
 * the verdict per file text. Every issue names the file, the line of the field, the resource and the path.
 */
import type { ConfigIssue, ResourceRef, Severity } from './issues.ts';
import type { ConfigResource } from './snapshot.ts';
import { formatPath, type Locator, type PathSegment } from './field-path.ts';
import { lookupKind, type KindDef, type KindKey } from './kinds.ts';
import { sortIssues, withoutFields } from './zod-issues.ts';
import { unsupportedAdvice } from './unsupported.ts';
import { stripNulls } from './strip-nulls.ts';
import { deepFreeze, stableStringify, textHash } from './stable-json.ts';
import { checkMeshConfigMap } from './mesh-configmap.ts';

/** The verdict on one object. */
export interface Entry {
  /** `group/Kind/namespace/name`, when the object is of a known kind and has a name. */
  id?: string;
  kindKey?: KindKey;
  ref?: ResourceRef;
  /** The accepted resource; absent when the object was rejected or is of a kind Weft does not read. */
  resource?: ConfigResource;
  /** A hash of the canonical content, to tell a real change from a re-read. */
  content?: string;
  issues: ConfigIssue[];
  origin: { file: string; line: number };
  /**
   * Where it sits, to find field lines again later: the piece of file text it was parsed from, the
   * document index in that piece, the List item path, and the piece's first line in the file.
   */
  at?: { text: string; doc: number; base: PathSegment[]; lineOffset: number };
  /** Line of metadata.name, where a duplicate is reported. */
  nameLine?: number;
}

export interface ObjectSource {
  file: string;
  locator: Locator;
  /** Where the object sits in its document (`items[3]` of a List); [] for a plain document. */
  base?: PathSegment[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function validateObject(input: unknown, src: ObjectSource): Entry {
  const base = src.base ?? [];
  const lineOf = (path: PathSegment[]) => src.locator.line([...base, ...path]);
  const origin = { file: src.file, line: lineOf([]) };
  const issues: ConfigIssue[] = [];
  let ref: ResourceRef | undefined;
  const add = (severity: Severity, path: PathSegment[], message: string) =>
    issues.push({ severity, file: src.file, line: lineOf(path), ...(ref ? { resource: ref } : {}), path: formatPath(path), message });

  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    add('error', [], 'expected a resource (a map with apiVersion, kind and metadata)');
    return { issues, origin };
  }
  const obj = stripNulls(input) as Record<string, unknown>;
  const meta = (obj.metadata && typeof obj.metadata === 'object' ? obj.metadata : {}) as Record<string, unknown>;
  const apiVersion = str(obj.apiVersion);
  const kind = str(obj.kind);
  const name = str(meta.name);
  if (!apiVersion || !kind) {
    if (kind && name) ref = { kind, namespace: str(meta.namespace) ?? '', name };
    if (!apiVersion) add('error', ['apiVersion'], typeof obj.apiVersion === 'string' || obj.apiVersion === undefined ? 'is required' : 'must be a string');
    if (!kind) add('error', ['kind'], typeof obj.kind === 'string' || obj.kind === undefined ? 'is required' : 'must be a string');
    return { issues, origin, ...(ref ? { ref } : {}) };
  }

  const found = lookupKind(apiVersion, kind);
  if (found.found !== 'ok') {
    const ns = found.found === 'version' && found.def.namespaced ? (str(meta.namespace) ?? 'default') : (str(meta.namespace) ?? '');
    ref = { kind, namespace: ns, name: name ?? '(no name)' };
    if (found.found === 'version') add('warning', ['apiVersion'], `${apiVersion} is not a version Weft reads for ${kind} (use ${found.served.join(' or ')}); ignored`);
    else if (found.found === 'not-used') add('warning', [], `${apiVersion} ${kind} ${found.advice}; ignored`);
    else add('warning', ['kind'], `unknown kind ${kind} (apiVersion ${apiVersion}); ignored`);
    return { issues, origin, ref };
  }

  const def = found.def;
  const namespace = def.namespaced ? (str(meta.namespace) ?? 'default') : '';
  ref = { kind, namespace, name: name ?? '(no name)' };
  if (!def.namespaced && meta.namespace !== undefined) add('warning', ['metadata', 'namespace'], `is ignored: ${kind} is cluster-scoped`);

  const parsed = parseWithSchema(def, obj);
  for (const p of parsed.unknownFields) add('warning', p, `unknown field; ignored (not part of ${kind} ${apiVersion})`);
  for (const e of parsed.errors) add('error', e.path, e.message);
  const entry: Entry = { issues, origin, ref, kindKey: def.key, nameLine: lineOf(['metadata', 'name']), ...(name ? { id: `${def.gk}/${namespace}/${name}` } : {}) };
  if (!parsed.data || parsed.errors.length > 0) return entry;

  const data = parsed.data;
  for (const a of unsupportedAdvice(def.gk, data)) add('warning', a.path, a.message);
  if (def.gk === '/ConfigMap') {
    const meshIssues = checkMeshConfigMap(data, {
      namespace,
      name: name!,
      file: src.file,
      lineOf,
      blockHeaderLine: (p) => src.locator.blockHeaderLine?.([...base, ...p]),
      ref,
    });
    issues.push(...meshIssues);
    if (meshIssues.some((i) => i.severity === 'error')) return entry;
  }

  if (def.gk === '/Secret') mergeStringData(data);

  const m = data.metadata as Record<string, unknown>;
  const { apiVersion: _a, kind: _k, metadata: _m, spec, ...rest } = data;
  const resource: ConfigResource = {
    apiVersion,
    kind,
    metadata: {
      name: name!,
      namespace,
      labels: (m.labels as Record<string, string>) ?? {},
      annotations: (m.annotations as Record<string, string>) ?? {},
      ...(m.generation !== undefined ? { generation: m.generation as number } : {}),
      ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion as string } : {}),
      ...(m.uid !== undefined ? { uid: m.uid as string } : {}),
      ...(m.ownerReferences !== undefined ? { ownerReferences: m.ownerReferences as ConfigResource['metadata']['ownerReferences'] } : {}),
    },
    spec: spec ?? {},
    ...(Object.keys(rest).length > 0 ? { extra: rest } : {}),
    origin,
  };
  entry.content = textHash(stableStringify({ apiVersion, kind, metadata: resource.metadata, spec: resource.spec, extra: resource.extra }));
  entry.resource = deepFreeze(resource);
  return entry;
}

interface Parsed {
  data?: Record<string, unknown>;
  errors: { path: PathSegment[]; message: string }[];
  unknownFields: PathSegment[][];
}

/** Parse once; when only unknown fields stand in the way, drop them and parse again for the data. */
function parseWithSchema(def: KindDef, obj: Record<string, unknown>): Parsed {
  const first = def.schema.safeParse(obj, { reportInput: true });
  if (first.success) return { data: first.data as Record<string, unknown>, errors: [], unknownFields: [] };
  const { errors, unknownFields } = sortIssues(first.error.issues);
  if (errors.length > 0) return { errors, unknownFields };
  const second = def.schema.safeParse(withoutFields(obj, unknownFields), { reportInput: true });
  if (second.success) return { data: second.data as Record<string, unknown>, errors: [], unknownFields };
  return { errors: sortIssues(second.error.issues).errors, unknownFields };
}

/** As the API server does on write: `stringData` is folded into `data` (base64), so readers look in one place. */
function mergeStringData(secret: Record<string, unknown>): void {
  const plain = secret.stringData as Record<string, string> | undefined;
  if (!plain) return;
  const data = { ...((secret.data as Record<string, string> | undefined) ?? {}) };
  for (const [k, v] of Object.entries(plain)) {
    let binary = '';
    for (const byte of new TextEncoder().encode(v)) binary += String.fromCharCode(byte);
    data[k] = btoa(binary);
  }
  secret.data = data;
  delete secret.stringData;
}
