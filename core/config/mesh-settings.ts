/**
 * Mesh settings from Istio's MeshConfig: a bare MeshConfig file (`--mesh`) or the `mesh` key of the
 * ConfigMap `istio` in `istio-system`. Pure: text in, settings and issues out; the Store decides which
 * source wins and keeps the last good settings when a new text is bad.
 */
import { LineCounter, parseDocument } from 'yaml';
import type { ConfigIssue, ResourceRef } from './issues.ts';
import type { MeshSettings } from './snapshot.ts';
import { formatPath, yamlLocator, type PathSegment } from './field-path.ts';
import { MESH_UNSUPPORTED, MeshConfigSchema, type MeshConfig } from './schema/mesh-config.ts';
import { sortIssues, withoutFields } from './zod-issues.ts';
import { stripNulls } from './strip-nulls.ts';

export const DEFAULT_MESH_SETTINGS: MeshSettings = Object.freeze({
  trustDomain: 'cluster.local',
  trustDomainAliases: Object.freeze([]) as readonly string[],
  outboundTrafficPolicy: 'ALLOW_ANY',
  clusterId: 'Kubernetes',
  network: '',
  domainSuffix: 'cluster.local',
  rootCa: Object.freeze({ source: 'state' }) as MeshSettings['rootCa'],
  rootNamespace: 'istio-system',
});

/** Where a MeshConfig text sits, so its issues name the right file, line and field. */
export interface MeshTextOrigin {
  file: string;
  /** Added to the text's own line numbers (a ConfigMap's block scalar starts below its key). */
  lineOffset?: number;
  /** When the text is a ConfigMap value: the ConfigMap, and the path prefix (`data.mesh`). */
  resource?: ResourceRef;
  pathPrefix?: PathSegment[];
  /** Line to use when a field cannot be located in the text (a quoted or folded scalar). */
  fallbackLine?: number;
}

export interface MeshParse {
  /** Present when the text is valid (warnings allowed). */
  config?: MeshConfig;
  issues: ConfigIssue[];
}

export function parseMeshConfig(text: string, origin: MeshTextOrigin): MeshParse {
  const issues: ConfigIssue[] = [];
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true });
  const prefix = origin.pathPrefix ?? [];
  const exact = origin.fallbackLine === undefined;
  const locator = yamlLocator(doc, lineCounter);
  const lineOf = (path: PathSegment[]) => (exact ? locator.line(path) + (origin.lineOffset ?? 0) : origin.fallbackLine!);
  const issue = (severity: ConfigIssue['severity'], path: PathSegment[], message: string, line = lineOf(path)): ConfigIssue => ({
    severity,
    file: origin.file,
    line,
    ...(origin.resource ? { resource: origin.resource } : {}),
    path: formatPath([...prefix, ...path]),
    message,
  });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const line = exact ? (e.linePos?.[0].line ?? 0) + (origin.lineOffset ?? 0) : origin.fallbackLine!;
      issues.push(issue('error', [], `MeshConfig is not valid YAML: ${e.message.split(' at line ')[0]}`, line));
    }
    return { issues };
  }
  const raw = stripNulls(doc.toJS() ?? {});
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push(issue('error', [], 'MeshConfig must be a map of settings'));
    return { issues };
  }
  let result = MeshConfigSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    const { errors, unknownFields } = sortIssues(result.error.issues);
    for (const p of unknownFields) issues.push(issue('warning', p, 'unknown MeshConfig field; ignored'));
    for (const e of errors) issues.push(issue('error', e.path, e.message));
    if (errors.length > 0) return { issues };
    result = MeshConfigSchema.safeParse(withoutFields(raw, unknownFields));
    if (!result.success) return { issues };
  }
  for (const k of MESH_UNSUPPORTED) {
    if ((raw as Record<string, unknown>)[k] !== undefined) issues.push(issue('warning', [k], 'is not supported by Weft yet and is ignored'));
  }
  return { config: result.data, issues };
}

/** Settings from a parsed MeshConfig over host-given values (cluster id, root CA source...). */
export function meshSettingsFrom(config: MeshConfig | undefined, base: MeshSettings = DEFAULT_MESH_SETTINGS): MeshSettings {
  if (!config) return base;
  return Object.freeze({
    ...base,
    trustDomain: config.trustDomain,
    trustDomainAliases: Object.freeze([...config.trustDomainAliases]),
    outboundTrafficPolicy: config.outboundTrafficPolicy.mode,
    rootNamespace: config.rootNamespace,
    ...(config.extensionProviders.length ? { extensionProviders: Object.freeze([...config.extensionProviders]) } : {}),
  });
}
