/**
 * Accepted resources in, MeshSnapshot out: pure and deterministic (sorted services, workloads and
 * issues), so the same input always yields the same snapshot and the Store can tell a real change.
 */
import type { ConfigIssue } from './issues.ts';
import type { ConfigResource, MeshSettings, MeshSnapshot } from './snapshot.ts';
import type { LocateField } from './build-context.ts';
import { MeshBuilder, type BuiltMesh } from './mesh-builder.ts';
import { deepFreeze } from './stable-json.ts';

export type { BuiltMesh } from './mesh-builder.ts';

export interface BuildInput {
  version: number;
  mesh: MeshSettings;
  /** Accepted resources by kind, each list sorted by namespace/name. */
  resources: ReadonlyMap<string, readonly ConfigResource[]>;
  /** Issues found before building (syntax, validation, duplicates, mesh settings). */
  issues?: readonly ConfigIssue[];
  locate?: LocateField;
}

export function compareIssues(a: ConfigIssue, b: ConfigIssue): number {
  return (
    (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
    a.line - b.line ||
    (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1) ||
    (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) ||
    (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
  );
}

/** The derived part of a snapshot, built from scratch (the Store keeps a MeshBuilder to build incrementally). */
export function buildMesh(mesh: MeshSettings, resources: ReadonlyMap<string, readonly ConfigResource[]>, locate?: LocateField): BuiltMesh {
  return new MeshBuilder().build(mesh, resources, locate);
}

export function assembleSnapshot(version: number, mesh: MeshSettings, resources: ReadonlyMap<string, readonly ConfigResource[]>, built: BuiltMesh, issues: readonly ConfigIssue[]): MeshSnapshot {
  const all = [...issues, ...built.warnings].sort(compareIssues);
  // Resources are deep-frozen when validated; the builder freezes the derived lists and their items one
  // level down (readonly types cover the rest) as it makes them, so an unchanged item costs nothing here.
  return Object.freeze({
    version,
    mesh,
    namespaces: built.namespaces,
    services: built.services,
    workloads: built.workloads,
    resources,
    issues: deepFreeze(all),
    changes: built.changes,
  });
}

export function buildSnapshot(input: BuildInput): MeshSnapshot {
  const built = buildMesh(input.mesh, input.resources, input.locate);
  return assembleSnapshot(input.version, input.mesh, input.resources, built, input.issues ?? []);
}
