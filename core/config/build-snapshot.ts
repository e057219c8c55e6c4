/**
 * Accepted resources in, MeshSnapshot out: pure and deterministic (sorted services, workloads and
 * issues), so the same input always yields the same snapshot and the Store can tell a real change.
 */
import type { ConfigIssue } from './issues.ts';
import type { ConfigResource, MeshSettings, MeshSnapshot, NamespaceInfo } from './snapshot.ts';
import { BuildContext, type LocateField } from './build-context.ts';
import { buildWorkloads, type WorkloadMemo } from './workloads.ts';
import { buildServices } from './services.ts';
import { checkReferences } from './references.ts';
import { deepFreeze } from './stable-json.ts';

export interface BuildInput {
  version: number;
  mesh: MeshSettings;
  /** Accepted resources by kind, each list sorted by namespace/name. */
  resources: ReadonlyMap<string, readonly ConfigResource[]>;
  /** Issues found before building (syntax, validation, duplicates, mesh settings). */
  issues?: readonly ConfigIssue[];
  locate?: LocateField;
}

/** Declared namespaces with their labels, plus every namespace a resource lives in (Kubernetes' `default` among them). */
function buildNamespaces(resources: ReadonlyMap<string, readonly ConfigResource[]>): Map<string, NamespaceInfo> {
  const labels = new Map<string, Record<string, string>>();
  for (const ns of resources.get('Namespace') ?? []) labels.set(ns.metadata.name, { ...ns.metadata.labels });
  for (const list of resources.values()) for (const r of list) if (r.metadata.namespace && !labels.has(r.metadata.namespace)) labels.set(r.metadata.namespace, {});
  const out = new Map<string, NamespaceInfo>();
  for (const name of [...labels.keys()].sort()) {
    // The API server adds this label to every namespace; Gateway API namespace selectors rely on it.
    out.set(name, { name, labels: { ...labels.get(name), 'kubernetes.io/metadata.name': name } });
  }
  return out;
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

export interface BuiltMesh {
  namespaces: Map<string, NamespaceInfo>;
  services: MeshSnapshot['services'];
  workloads: MeshSnapshot['workloads'];
  /** Warnings found while building (dangling references, pods without addresses...). */
  warnings: ConfigIssue[];
}

/** The derived part of a snapshot: namespaces, workloads, services, reference warnings. */
export function buildMesh(mesh: MeshSettings, resources: ReadonlyMap<string, readonly ConfigResource[]>, locate?: LocateField, memo?: WorkloadMemo): BuiltMesh {
  const namespaces = buildNamespaces(resources);
  const ctx = new BuildContext(resources, namespaces, mesh, locate);
  const workloads = buildWorkloads(ctx, memo);
  const services = buildServices(ctx, workloads);
  checkReferences(ctx, services);
  return { namespaces, services, workloads, warnings: ctx.warnings };
}

export function assembleSnapshot(version: number, mesh: MeshSettings, resources: ReadonlyMap<string, readonly ConfigResource[]>, built: BuiltMesh, issues: readonly ConfigIssue[]): MeshSnapshot {
  const all = [...issues, ...built.warnings].sort(compareIssues);
  // Resources are deep-frozen when validated; the derived lists are frozen one level down (readonly
  // types cover the rest): deep-freezing 10,000 workloads on every change would cost more than it guards.
  return Object.freeze({
    version,
    mesh,
    namespaces: built.namespaces,
    services: freezeItems(built.services),
    workloads: freezeItems(built.workloads),
    resources,
    issues: deepFreeze(all),
  });
}

function freezeItems<T extends object>(list: readonly T[]): readonly T[] {
  for (const item of list) Object.freeze(item);
  return Object.freeze(list);
}

export function buildSnapshot(input: BuildInput): MeshSnapshot {
  const built = buildMesh(input.mesh, input.resources, input.locate);
  return assembleSnapshot(input.version, input.mesh, input.resources, built, input.issues ?? []);
}
