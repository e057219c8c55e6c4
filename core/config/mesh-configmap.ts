/**
 * Istio's habit for mesh settings: the ConfigMap `istio` in `istio-system`, MeshConfig YAML under its
 * `mesh` key. Its MeshConfig is checked with the ConfigMap, so a bad mesh text rejects the ConfigMap and
 * its last good version stays in force. Other ConfigMaps are accepted and reported as not used.
 */
import type { ConfigIssue, ResourceRef } from './issues.ts';
import type { PathSegment } from './field-path.ts';
import { parseMeshConfig } from './mesh-settings.ts';

export const MESH_CONFIGMAP = { namespace: 'istio-system', name: 'istio', key: 'mesh' } as const;

export interface ConfigMapContext {
  namespace: string;
  name: string;
  file: string;
  ref: ResourceRef;
  lineOf(path: PathSegment[]): number;
  blockHeaderLine?(path: PathSegment[]): number | undefined;
}

export function isMeshConfigMap(namespace: string, name: string): boolean {
  return namespace === MESH_CONFIGMAP.namespace && name === MESH_CONFIGMAP.name;
}

export function checkMeshConfigMap(data: Record<string, unknown>, ctx: ConfigMapContext): ConfigIssue[] {
  const warn = (path: PathSegment[], message: string): ConfigIssue => ({
    severity: 'warning', file: ctx.file, line: ctx.lineOf(path), resource: ctx.ref, path: path.join('.'), message,
  });
  if (!isMeshConfigMap(ctx.namespace, ctx.name)) {
    return [warn([], `is not used by Weft (only the ConfigMap ${MESH_CONFIGMAP.namespace}/${MESH_CONFIGMAP.name} with a mesh key is read)`)];
  }
  const values = (data.data ?? {}) as Record<string, string>;
  const out: ConfigIssue[] = [];
  for (const key of Object.keys(values)) if (key !== MESH_CONFIGMAP.key) out.push(warn(['data', key], 'is not used by Weft (only the mesh key is read)'));
  const text = values[MESH_CONFIGMAP.key];
  if (text === undefined) return [...out, warn(['data'], 'has no mesh key: default mesh settings apply')];
  const path: PathSegment[] = ['data', MESH_CONFIGMAP.key];
  const header = ctx.blockHeaderLine?.(path);
  const parsed = parseMeshConfig(text, {
    file: ctx.file,
    resource: ctx.ref,
    pathPrefix: path,
    ...(header !== undefined ? { lineOffset: header } : { fallbackLine: ctx.lineOf(path) }),
  });
  return [...out, ...parsed.issues];
}
