/**
 * `weft proxy-config listeners|routes|clusters` for gateways and waypoints: rows in the columns of
 * istioctl's `proxy-config listeners|routes|clusters`, read from the `envoy` section of an L7
 * proxy's `/config_dump` (the Envoy resources it holds, as JSON: core/xds/proto-json.ts). With
 * `-o json`, Envoy's config dump shapes (ListenersConfigDump, RoutesConfigDump, ClustersConfigDump)
 * so jq scripts written against `istioctl proxy-config ... -o json` find the same paths.
 */
import type { JsonObject } from './dump.ts';

export const LISTENER_COLUMNS = ['ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'];
export const ROUTE_COLUMNS = ['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'];
export const CLUSTER_COLUMNS = ['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'ENDPOINTS'];

export interface EnvoySection {
  listeners: JsonObject[];
  routes: JsonObject[];
  clusters: JsonObject[];
  endpoints: JsonObject[];
}

const arr = (v: unknown): JsonObject[] => (Array.isArray(v) ? (v as JsonObject[]) : []);
const obj = (v: unknown): JsonObject => (v && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

export function readEnvoySection(v: unknown): EnvoySection | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as JsonObject;
  return { listeners: arr(o.listeners), routes: arr(o.routes), clusters: arr(o.clusters), endpoints: arr(o.endpoints) };
}

export function listenerRows(e: EnvoySection): string[][] {
  const rows: string[][] = [];
  for (const l of e.listeners) {
    const sa = obj(obj(l.address).socketAddress);
    for (const fc of arr(l.filterChains)) {
      const names = arr(obj(fc.filterChainMatch).serverNames).map(str);
      const hcm = arr(fc.filters).map((f) => obj(f.typedConfig)).find((t) => str(t['@type']).endsWith('HttpConnectionManager'));
      const route = str(obj(hcm?.rds).routeConfigName);
      rows.push([str(sa.address), str(sa.portValue), names.length ? `SNI: ${names.join(',')}` : 'ALL', route ? `Route: ${route}` : 'Non-HTTP/Non-TCP']);
    }
  }
  return rows.sort(byCells);
}

function matchCell(m: JsonObject): string {
  const path = m.prefix !== undefined ? `${str(m.prefix)}*` : m.path !== undefined ? str(m.path) : m.pathSeparatedPrefix !== undefined ? `${str(m.pathSeparatedPrefix)}/*` : m.safeRegex !== undefined ? str(obj(m.safeRegex).regex) : '/*';
  const extra = arr(m.headers).length + arr(m.queryParameters).length;
  return extra ? `${path} (+${extra})` : path;
}

export function routeRows(e: EnvoySection): string[][] {
  const rows: string[][] = [];
  for (const rc of e.routes) {
    for (const vh of arr(rc.virtualHosts)) {
      const domains = arr(vh.domains).map(str);
      const shown = domains.filter((d) => !/:\d+$/.test(d));
      for (const r of arr(vh.routes)) rows.push([str(rc.name), str(vh.name), (shown.length ? shown : domains).join(','), matchCell(obj(r.match)), str(r.name) || '-']);
    }
  }
  return rows;
}

export function clusterRows(e: EnvoySection): string[][] {
  const counts = new Map<string, number>();
  for (const a of e.endpoints) counts.set(str(a.clusterName), arr(a.endpoints).reduce((n, l) => n + arr(obj(l).lbEndpoints).length, 0));
  return e.clusters
    .map((c) => {
      const name = str(c.name);
      const [direction = '', port = '', subset = '', fqdn = name] = name.split('|');
      const type = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST'][Number(c.type ?? 0)] ?? str(c.type);
      const service = obj(c.edsClusterConfig).serviceName ?? name;
      const n = counts.get(str(service)) ?? arr(obj(c.loadAssignment).endpoints).reduce((m, l) => m + arr(obj(l).lbEndpoints).length, 0);
      return name.includes('|') ? [fqdn, port, subset || '-', direction, type, String(n)] : [name, '-', '-', '-', type, String(n)];
    })
    .sort(byCells);
}

/** Envoy's admin config dump shapes for `-o json`. */
export function envoyConfigDump(kind: 'listeners' | 'routes' | 'clusters', e: EnvoySection): JsonObject {
  const T = 'type.googleapis.com/envoy.admin.v3.';
  switch (kind) {
    case 'listeners':
      return { configs: [{ '@type': `${T}ListenersConfigDump`, dynamicListeners: e.listeners.map((l) => ({ name: l.name, activeState: { listener: { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', ...l } } })) }] };
    case 'routes':
      return { configs: [{ '@type': `${T}RoutesConfigDump`, dynamicRouteConfigs: e.routes.map((r) => ({ routeConfig: { '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', ...r } })) }] };
    case 'clusters':
      return { configs: [{ '@type': `${T}ClustersConfigDump`, dynamicActiveClusters: e.clusters.map((c) => ({ cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', ...c } })) }] };
  }
}

function byCells(a: string[], b: string[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = (a[i] ?? '').localeCompare(b[i] ?? '');
    if (c !== 0) return c;
  }
  return 0;
}
