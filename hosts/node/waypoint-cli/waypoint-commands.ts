/**
 * What `weft waypoint apply|list|delete` do to a config directory, returning the lines to print
 * (istioctl's wording where it has one), so the CLI stays a thin shell and tests read the results.
 */
import { ConfigDirectory, USE_WAYPOINT_LABEL, WAYPOINT_FOR_LABEL, setLabel, waypointGateway, type WaypointFor } from './config-edit.ts';

export interface ApplyOptions {
  dir: string;
  namespace: string;
  name: string;
  forWhat: WaypointFor;
  enrollNamespace: boolean;
  overwrite: boolean;
}

export async function applyWaypoint(o: ApplyOptions): Promise<string[]> {
  const cfg = await ConfigDirectory.open(o.dir);
  const out: string[] = [];
  const existing = cfg.find('Gateway', o.namespace, o.name);
  if (existing && !cfg.waypoints(o.namespace).some((w) => w.name === o.name)) {
    throw new Error(`${existing.file.display}: Gateway ${o.namespace}/${o.name} exists and is not a waypoint (gatewayClassName is not istio-waypoint); choose another --name`);
  }
  if (existing) {
    const current = existing.doc.getIn(['metadata', 'labels', WAYPOINT_FOR_LABEL]);
    if (current !== o.forWhat) {
      if (!o.overwrite && current !== undefined) throw new Error(`waypoint ${o.namespace}/${o.name} exists for ${String(current)}; add --overwrite to make it for ${o.forWhat}`);
      setLabel(existing.doc, WAYPOINT_FOR_LABEL, o.forWhat);
      await cfg.save(existing.file);
    }
    out.push(`waypoint ${o.namespace}/${o.name} applied (${existing.file.display})`);
  } else {
    const path = await cfg.writeNew(`waypoint-${o.namespace}-${o.name}.yaml`, waypointGateway(o.namespace, o.name, o.forWhat));
    out.push(`waypoint ${o.namespace}/${o.name} applied (${path})`);
  }
  if (o.enrollNamespace) out.push(await labelNamespace(cfg, o.namespace, o.name));
  return out;
}

async function labelNamespace(cfg: ConfigDirectory, namespace: string, waypoint: string): Promise<string> {
  const ns = cfg.find('Namespace', '', namespace);
  if (ns) {
    setLabel(ns.doc, USE_WAYPOINT_LABEL, waypoint);
    await cfg.save(ns.file);
  } else {
    await cfg.writeNew(`namespace-${namespace}.yaml`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { [USE_WAYPOINT_LABEL]: waypoint } } });
  }
  return `namespace ${namespace} labeled with "${USE_WAYPOINT_LABEL}: ${waypoint}"`;
}

export interface WaypointRow {
  namespace: string;
  name: string;
  forWhat: string;
  /** Namespaces and services whose use-waypoint label names it. */
  usedBy: string[];
  file: string;
}

export async function listWaypoints(dir: string, namespace?: string): Promise<{ rows: WaypointRow[]; broken: string[] }> {
  const cfg = await ConfigDirectory.open(dir);
  const users = [...cfg.resources()].filter((r) => (r.kind === 'Namespace' || r.kind === 'Service') && typeof r.doc.getIn(['metadata', 'labels', USE_WAYPOINT_LABEL]) === 'string');
  const rows = cfg.waypoints(namespace).map((w) => ({
    namespace: w.namespace,
    name: w.name,
    forWhat: String(w.doc.getIn(['metadata', 'labels', WAYPOINT_FOR_LABEL]) ?? 'service'),
    usedBy: users
      .filter((u) => u.doc.getIn(['metadata', 'labels', USE_WAYPOINT_LABEL]) === w.name && (u.kind === 'Namespace' ? u.name === w.namespace : u.namespace === w.namespace))
      .map((u) => (u.kind === 'Namespace' ? `namespace/${u.name}` : `service/${u.name}`)),
    file: w.file.display,
  }));
  return { rows, broken: cfg.broken };
}

export function formatWaypointTable(rows: readonly WaypointRow[]): string {
  if (rows.length === 0) return 'No waypoints found.';
  const table = [['NAMESPACE', 'NAME', 'FOR', 'USED BY', 'FILE'], ...rows.map((r) => [r.namespace, r.name, r.forWhat, r.usedBy.join(',') || '-', r.file])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('')).join('\n');
}

export async function deleteWaypoints(o: { dir: string; namespace: string; names: string[]; all: boolean }): Promise<string[]> {
  const cfg = await ConfigDirectory.open(o.dir);
  const targets = cfg.waypoints(o.namespace).filter((w) => o.all || o.names.includes(w.name));
  const missing = o.all ? [] : o.names.filter((n) => !targets.some((t) => t.name === n));
  if (missing.length) throw new Error(`no waypoint ${missing.map((n) => `${o.namespace}/${n}`).join(', ')} in ${o.dir}`);
  if (targets.length === 0) return [`no waypoints in namespace ${o.namespace}`];
  const out: string[] = [];
  // delete from the last document up, so earlier indexes in the same file stay valid
  for (const t of [...targets].sort((a, b) => b.index - a.index)) {
    t.file.docs.splice(t.index, 1);
    out.push(`waypoint ${o.namespace}/${t.name} deleted`);
  }
  for (const f of new Set(targets.map((t) => t.file))) await cfg.save(f);
  for (const r of cfg.resources()) {
    const uses = r.doc.getIn(['metadata', 'labels', USE_WAYPOINT_LABEL]);
    if ((r.kind === 'Namespace' || r.kind === 'Service') && targets.some((t) => t.name === uses && (r.kind === 'Namespace' ? r.name === o.namespace : r.namespace === o.namespace))) {
      out.push(`warning: ${r.kind.toLowerCase()} ${r.kind === 'Namespace' ? r.name : `${r.namespace}/${r.name}`} (${r.file.display}) still has ${USE_WAYPOINT_LABEL}=${String(uses)}; its traffic has no waypoint now`);
    }
  }
  return out;
}
