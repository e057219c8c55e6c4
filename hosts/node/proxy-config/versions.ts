/**
 * `weft version`: istioctl's three lines (`client version`, `control plane version`, `data plane
 * version: V (N proxies)`). The control plane's version comes from its HTTP API's `/version`, each
 * proxy's from its xDS node metadata in `/debug/syncz` (`WEFT_VERSION`, Istio's `ISTIO_VERSION`, or
 * the user agent's version).
 */
import type { SynczEntry } from '../xds/connection.ts';
import { fetchJson } from './locate.ts';

export function proxyVersion(e: SynczEntry): string {
  const md = e.node?.metadata ?? {};
  for (const key of ['WEFT_VERSION', 'ISTIO_VERSION']) {
    const v = md[key];
    if (typeof v === 'string' && v) return v;
  }
  const ua = e.node?.userAgent ?? '';
  const slash = ua.indexOf('/');
  return slash > 0 && slash < ua.length - 1 ? ua.slice(slash + 1) : 'unknown';
}

export interface VersionReport {
  client: string;
  control?: string;
  /** Proxy versions, one per connected proxy. */
  proxies?: string[];
  /** Why the control plane part is missing. */
  problem?: string;
}

/** "1.2.0 (3 proxies)", or "1.1.0 (1 proxy), 1.2.0 (2 proxies)" when they differ. */
export function formatDataPlane(versions: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of versions) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([v, n]) => `${v} (${n} ${n === 1 ? 'proxy' : 'proxies'})`).join(', ');
}

export function formatVersionReport(r: VersionReport): string {
  const lines = [`client version: ${r.client}`];
  if (r.control !== undefined) lines.push(`control plane version: ${r.control}`);
  if (r.proxies !== undefined) lines.push(`data plane version: ${r.proxies.length ? formatDataPlane(r.proxies) : 'none (0 proxies)'}`);
  return `${lines.join('\n')}\n`;
}

/** Asks the control plane; an absent one is reported in `problem`, never thrown. */
export async function collectVersions(client: string, controlHttp: string, timeoutMs: number): Promise<VersionReport> {
  const base = controlHttp.replace(/\/+$/, '');
  try {
    const [v, syncz] = await Promise.all([fetchJson(`${base}/version`, timeoutMs), fetchJson(`${base}/debug/syncz`, timeoutMs)]);
    const control = typeof (v as { version?: unknown }).version === 'string' ? (v as { version: string }).version : 'unknown';
    return { client, control, proxies: Array.isArray(syncz) ? (syncz as SynczEntry[]).map(proxyVersion) : [] };
  } catch (err) {
    return { client, problem: err instanceof Error ? err.message : String(err) };
  }
}
