/**
 * What `weft waypoint apply|list|delete` do to a config directory, returning the lines to print
 * (istioctl's wording where it has one), so the CLI stays a thin shell and tests read the results.
 */
import { ConfigDirectory, GATEWAY_NAME_LABEL, USE_WAYPOINT_LABEL, WAYPOINT_FOR_LABEL, setLabel, waypointAddressResources, waypointGateway, type WaypointFor } from './config-edit.ts';

export interface ApplyOptions {
  dir: string;
  namespace: string;
  name: string;
  forWhat: WaypointFor;
  enrollNamespace: boolean;
  overwrite: boolean;
  /** Where `weft waypoint` runs (its --listen): also writes its WorkloadEntry and Service. */
  address?: string;
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
  if (o.address) out.push(await writeAddress(cfg, o.namespace, o.name, o.address));
  if (o.enrollNamespace) out.push(await labelNamespace(cfg, o.namespace, o.name));
  return out;
}

/** The waypoint's WorkloadEntry (address updated in place when it exists) and Service. */
async function writeAddress(cfg: ConfigDirectory, namespace: string, name: string, address: string): Promise<string> {
  const we = cfg.find('WorkloadEntry', namespace, name);
  const svc = cfg.find('Service', namespace, name);
  for (const r of [we, svc]) {
    if (r && r.doc.getIn(['metadata', 'labels', GATEWAY_NAME_LABEL]) !== name) {
      throw new Error(`${r.file.display}: ${r.kind} ${namespace}/${name} exists and is not this waypoint's (no label ${GATEWAY_NAME_LABEL}: ${name}); remove it or choose another --name`);
    }
  }
  const [svcDoc, weDoc] = waypointAddressResources(namespace, name, address);
  if (we) {
    we.doc.setIn(['spec', 'address'], address);
    await cfg.save(we.file);
  }
  const missing = [...(svc ? [] : [svcDoc!]), ...(we ? [] : [weDoc!])];
  if (missing.length) await cfg.writeNew(`waypoint-${namespace}-${name}-address.yaml`, missing);
  return `waypoint ${namespace}/${name} is reached at ${address}:15008 (WorkloadEntry and Service ${namespace}/${name})`;
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
  // the WorkloadEntry and Service `apply --address` wrote for each (labelled with its name)
  const made = [...cfg.resources()].filter(
    (r) => (r.kind === 'WorkloadEntry' || r.kind === 'Service') && r.namespace === o.namespace && targets.some((t) => t.name === r.name && r.doc.getIn(['metadata', 'labels', GATEWAY_NAME_LABEL]) === t.name),
  );
  const touched = new Set(targets.map((t) => t.file));
  for (const r of [...made].sort((a, b) => b.index - a.index)) {
    r.file.docs.splice(r.index, 1);
    touched.add(r.file);
  }
  for (const f of touched) await cfg.save(f);
  for (const r of cfg.resources()) {
    const uses = r.doc.getIn(['metadata', 'labels', USE_WAYPOINT_LABEL]);
    if ((r.kind === 'Namespace' || r.kind === 'Service') && targets.some((t) => t.name === uses && (r.kind === 'Namespace' ? r.name === o.namespace : r.namespace === o.namespace))) {
      out.push(`warning: ${r.kind.toLowerCase()} ${r.kind === 'Namespace' ? r.name : `${r.namespace}/${r.name}`} (${r.file.display}) still has ${USE_WAYPOINT_LABEL}=${String(uses)}; its traffic has no waypoint now`);
    }
  }
  return out;
}
