/**
 * `weft proxy-config workload|service|policy`: rows in the columns of istioctl's `ztunnel-config
 * workload|service|policy`, and `renderTable` aligning them as istioctl's tabwriter does (one
 * space of padding, no trailing spaces).
 */
import type { ConfigDump, JsonObject } from './dump.ts';

export const WORKLOAD_COLUMNS = ['NAMESPACE', 'POD NAME', 'ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL'];
export const SERVICE_COLUMNS = ['NAMESPACE', 'SERVICE NAME', 'SERVICE VIP', 'WAYPOINT', 'ENDPOINTS'];
export const POLICY_COLUMNS = ['NAMESPACE', 'POLICY NAME', 'ACTION', 'SCOPE'];

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

/** A waypoint reference (core/node GatewayTarget) as a cell: its IP or hostname, else None. */
function waypointCell(v: unknown): string {
  if (!v || typeof v !== 'object') return 'None';
  const t = v as JsonObject;
  return str(t.ip) || str(t.hostname) || 'None';
}

/** `NONE` (plaintext) shows as TCP, as istioctl does. */
function protocolCell(v: unknown): string {
  const p = str(v);
  return p === '' || p === 'NONE' ? 'TCP' : p;
}

export function workloadRows(dump: ConfigDump): string[][] {
  return dump.workloads
    .map((w) => [str(w.namespace), str(w.name), (Array.isArray(w.addresses) ? w.addresses.map(str) : []).join(',') || str(w.hostname), str(w.node), waypointCell(w.waypoint), protocolCell(w.tunnel)])
    .sort(byCells);
}

export function serviceRows(dump: ConfigDump): string[][] {
  const total = new Map<string, number>();
  const healthy = new Map<string, number>();
  for (const w of dump.workloads) {
    const svcs = w.services && typeof w.services === 'object' ? Object.keys(w.services as JsonObject) : [];
    for (const key of svcs) {
      total.set(key, (total.get(key) ?? 0) + 1);
      if (w.healthy !== false) healthy.set(key, (healthy.get(key) ?? 0) + 1);
    }
  }
  return dump.services
    .map((s) => {
      const key = str(s.key) || `${str(s.namespace)}/${str(s.hostname)}`;
      const vips = Array.isArray(s.vips) ? s.vips.map((v) => (typeof v === 'object' && v ? vipCell(v as JsonObject) : str(v))) : [];
      return [str(s.namespace), str(s.name) || str(s.hostname), vips.join(',') || 'None', waypointCell(s.waypoint), `${healthy.get(key) ?? 0}/${total.get(key) ?? 0}`];
    })
    .sort(byCells);
}

function vipCell(v: JsonObject): string {
  const ip = str(v.ip);
  const full = ip.includes(':') ? 128 : 32;
  return typeof v.length === 'number' && v.length !== full ? `${ip}/${v.length}` : ip;
}

const titleCase = (s: string): string => s.split('_').map((w) => w.charAt(0) + w.slice(1).toLowerCase()).join('');

export function policyRows(dump: ConfigDump): string[][] {
  return dump.policies
    .map((p) => [str(p.namespace), str(p.name), `${titleCase(str(p.action))}${p.dryRun ? ' (dry-run)' : ''}`, titleCase(str(p.scope))])
    .sort(byCells);
}

function byCells(a: string[], b: string[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/** Columns left-aligned, one space between, no trailing spaces (istioctl's tabwriter output). */
export function renderTable(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [columns, ...rows];
  const widths = columns.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i] + 1))).join('').trimEnd()).join('\n') + '\n';
}
