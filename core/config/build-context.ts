/**
 * What the snapshot builders share: the accepted resources by kind, namespaces, mesh settings, and a
 * place for the warnings they find (a pod without an address, a waypoint label naming no Gateway).
 */
import type { ConfigIssue, ResourceRef } from './issues.ts';
import type { ConfigResource, MeshSettings, NamespaceInfo, WaypointRef } from './snapshot.ts';
import { formatPath, type PathSegment } from './field-path.ts';
import { isIstioGateway } from './kinds.ts';

export const LABELS = {
  dataplaneMode: 'istio.io/dataplane-mode',
  useWaypoint: 'istio.io/use-waypoint',
  useWaypointNamespace: 'istio.io/use-waypoint-namespace',
  waypointFor: 'istio.io/waypoint-for',
  node: 'weft.io/node',
  serviceName: 'kubernetes.io/service-name',
} as const;

export const WAYPOINT_CLASS = 'istio-waypoint';

export type LocateField = (res: ConfigResource, path: readonly PathSegment[]) => number;

export class BuildContext {
  readonly warnings: ConfigIssue[] = [];

  constructor(
    readonly resources: ReadonlyMap<string, readonly ConfigResource[]>,
    readonly namespaces: ReadonlyMap<string, NamespaceInfo>,
    readonly mesh: MeshSettings,
    /** The line of a field of an accepted resource (the Store re-reads the file); else the resource's line. */
    readonly locate?: LocateField,
  ) {}

  of(kind: string): readonly ConfigResource[] {
    return this.resources.get(kind) ?? [];
  }

  warn(res: ConfigResource, path: PathSegment[], message: string): void {
    const ref: ResourceRef = { kind: res.kind, namespace: res.metadata.namespace, name: res.metadata.name };
    const line = this.locate?.(res, path) || res.origin.line;
    this.warnings.push({ severity: 'warning', file: res.origin.file, line, resource: ref, path: formatPath(path), message });
  }

  nsLabels(ns: string): Readonly<Record<string, string>> {
    return this.namespaces.get(ns)?.labels ?? {};
  }

  #waypoints?: Map<string, ConfigResource>;
  /** Gateway API Gateways by `ns/name` (waypoints are Gateways of class istio-waypoint). */
  gateway(ns: string, name: string): ConfigResource | undefined {
    this.#waypoints ??= new Map(this.of('Gateway').filter((g) => !isIstioGateway(g)).map((g) => [`${g.metadata.namespace}/${g.metadata.name}`, g]));
    return this.#waypoints.get(`${ns}/${name}`);
  }

  /**
   * The waypoint an object's labels (or its namespace's) ask for, if that Gateway exists, is a waypoint,
   * and serves this kind of traffic (`istio.io/waypoint-for`: service (default), workload, all, none).
   */
  waypointFor(res: ConfigResource, labels: Readonly<Record<string, string>>, traffic: 'service' | 'workload'): WaypointRef | undefined {
    const own = labels[LABELS.useWaypoint];
    const nsLabels = this.nsLabels(res.metadata.namespace);
    const from = own !== undefined ? labels : nsLabels;
    const name = from[LABELS.useWaypoint];
    if (!name || name === 'none') return undefined;
    const namespace = from[LABELS.useWaypointNamespace] || res.metadata.namespace;
    const gw = this.gateway(namespace, name);
    const path = own !== undefined ? ['metadata', 'labels', LABELS.useWaypoint] : [];
    const via = own !== undefined ? '' : ` (namespace ${res.metadata.namespace} label ${LABELS.useWaypoint})`;
    if (!gw) {
      if (own !== undefined || traffic === 'service') this.warn(res, path, `waypoint Gateway ${namespace}/${name}${via} does not exist`);
      return undefined;
    }
    const cls = (gw.spec as { gatewayClassName?: string }).gatewayClassName;
    if (cls !== WAYPOINT_CLASS) {
      this.warn(res, path, `Gateway ${namespace}/${name}${via} is not a waypoint (gatewayClassName ${cls}, expected ${WAYPOINT_CLASS})`);
      return undefined;
    }
    const serves = gw.metadata.labels[LABELS.waypointFor] ?? 'service';
    if (serves !== 'all' && serves !== traffic) return undefined;
    return { namespace, name };
  }
}

export function matchesSelector(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}
