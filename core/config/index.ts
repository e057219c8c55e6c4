/**
 * core/config: users' YAML in, validated resources and an immutable MeshSnapshot out.
 * The control plane makes one ConfigStore, adds its sources, and subscribes to snapshots.
 */
export type { ConfigIssue, ResourceRef, Severity } from './issues.ts';
export { formatIssue, refText } from './issues.ts';
export type * from './snapshot.ts';
export { ConfigStore } from './store.ts';
export type { ConfigSource, ObjectRef, SourceSink, StoreOptions, UnreadableFile } from './store.ts';
export { analyzeFiles, type AnalyzeResult } from './analyze.ts';
export { parseSourceFile, type ParsedFile } from './parse-file.ts';
export { validateObject, type Entry } from './validate.ts';
export { buildSnapshot, type BuildInput } from './build-snapshot.ts';
export { DEFAULT_MESH_SETTINGS, meshSettingsFrom, parseMeshConfig } from './mesh-settings.ts';
export { MESH_CONFIGMAP } from './mesh-configmap.ts';
export { KIND_DEFS, KIND_KEYS, isIstioGateway, lookupKind, type KindKey } from './kinds.ts';
export { BUILTIN_GATEWAY_CLASSES } from './references.ts';
export { LABELS, WAYPOINT_CLASS } from './build-context.ts';
export { spiffeId, podUid, workloadEntryUid } from './workloads.ts';
export { formatPath, type PathSegment } from './field-path.ts';
export { durationMs, parseGatewayDuration, parseGoDuration } from './schema/duration.ts';
export { re2ToJs, checkRegex } from './schema/regex.ts';
export { isCIDR, isIP, isIPv4, isIPv6 } from '../net/ip.ts';
export type * from './types.ts';
