/**
 * What the Kubernetes source reads: every kind of core/config/kinds.ts (one entry per API group and
 * kind, with the versions Weft reads), narrowed where Weft needs only a part: Secrets of type
 * kubernetes.io/tls (the gateways' certificates), with only their certificate keys, and the one
 * ConfigMap istio-system/istio. Objects are named `k8s:<apiVersion>/<Kind>/<ns>/<name>` in messages.
 */
import { KIND_DEFS } from '../../../core/config/kinds.ts';
import { MESH_CONFIGMAP } from '../../../core/config/mesh-configmap.ts';
import type { KubeObject } from './kube-client.ts';

/** A kind Weft wants, before discovery says whether and at which version the cluster serves it. */
export interface WantedKind {
  group: string;
  kind: string;
  /** Versions Weft reads, in its order of preference. */
  versions: readonly string[];
  /** Only this namespace (the mesh ConfigMap). */
  namespace?: string;
  fieldSelector?: string;
}

/** A wanted kind as the cluster serves it. */
export interface ServedKind extends WantedKind {
  version: string;
  apiVersion: string;
  plural: string;
  namespaced: boolean;
}

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
/** The keys of a TLS Secret the gateways use; anything else in it is never read into memory. */
const TLS_KEYS = ['tls.crt', 'tls.key', 'ca.crt'];

const NARROW: Record<string, Pick<WantedKind, 'namespace' | 'fieldSelector'>> = {
  '/Secret': { fieldSelector: `type=${TLS_SECRET_TYPE}` },
  '/ConfigMap': { namespace: MESH_CONFIGMAP.namespace, fieldSelector: `metadata.name=${MESH_CONFIGMAP.name}` },
};

export function wantedKinds(): WantedKind[] {
  const byGk = new Map<string, WantedKind>();
  for (const d of KIND_DEFS) {
    const gk = `${d.group}/${d.kind}`;
    const prev = byGk.get(gk);
    if (prev) byGk.set(gk, { ...prev, versions: [...prev.versions, ...d.versions.filter((v) => !prev.versions.includes(v))] });
    else byGk.set(gk, { group: d.group, kind: d.kind, versions: d.versions, ...NARROW[gk] });
  }
  return [...byGk.values()];
}

export const kindLabel = (k: Pick<WantedKind, 'group' | 'kind'>): string => (k.group ? `${k.kind}.${k.group}` : k.kind);

/** The collection path of a served kind (cluster-wide unless the kind is narrowed to a namespace). */
export function collectionPath(k: ServedKind): string {
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  return k.namespace && k.namespaced ? `${base}/namespaces/${encodeURIComponent(k.namespace)}/${k.plural}` : `${base}/${k.plural}`;
}

/**
 * What the Store gets of an object: apiVersion and kind set (list items of built-in kinds carry
 * neither), managedFields and the last-applied annotation dropped (bulk that Weft never reads), a
 * Secret cut to its certificate keys, and anything outside the narrowing left out (undefined).
 */
export function prepareObject(k: ServedKind, raw: KubeObject): KubeObject | undefined {
  const { managedFields: _mf, ...metadata } = raw.metadata ?? {};
  if (metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'] !== undefined) {
    const { 'kubectl.kubernetes.io/last-applied-configuration': _la, ...rest } = metadata.annotations;
    metadata.annotations = rest;
  }
  const obj: KubeObject = { ...raw, apiVersion: k.apiVersion, kind: k.kind, metadata };
  if (k.group === '' && k.kind === 'Secret') {
    if (raw.type !== TLS_SECRET_TYPE) return undefined;
    const data: Record<string, string> = {};
    for (const key of TLS_KEYS) if (typeof raw.data?.[key] === 'string') data[key] = raw.data[key];
    return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata, type: raw.type, data };
  }
  if (k.namespace && metadata.namespace !== k.namespace) return undefined;
  if (k.group === '' && k.kind === 'ConfigMap' && metadata.name !== MESH_CONFIGMAP.name) return undefined;
  return obj;
}

/** How messages name an object from Kubernetes: where it is, as a file path names a file. */
export function objectOrigin(obj: unknown): string {
  const o = obj as { apiVersion?: string; kind?: string; metadata?: { namespace?: string; name?: string } };
  const ns = o.metadata?.namespace ? `${o.metadata.namespace}/` : '';
  return `k8s:${o.apiVersion}/${o.kind}/${ns}${o.metadata?.name}`;
}
