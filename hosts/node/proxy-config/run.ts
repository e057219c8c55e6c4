/**
 * `weft proxy-config KIND TARGET`: locate the proxy, read its `/config_dump`, and print one section
 * as a table or JSON. Pure formatting lives in secrets.ts and tables.ts; this file only does I/O.
 */
import { readConfigDump, type ConfigDump } from './dump.ts';
import { fetchJson, locateProxy, parseTarget, type Target } from './locate.ts';
import { CLUSTER_COLUMNS, clusterRows, envoyConfigDump, LISTENER_COLUMNS, listenerRows, readEnvoySection, ROUTE_COLUMNS, routeRows } from './envoy-tables.ts';
import { SECRET_COLUMNS, secretRows, secretsConfigDump } from './secrets.ts';
import { POLICY_COLUMNS, policyRows, renderTable, SERVICE_COLUMNS, serviceRows, WORKLOAD_COLUMNS, workloadRows } from './tables.ts';

export const PROXY_CONFIG_KINDS = ['secret', 'workload', 'service', 'policy', 'listeners', 'routes', 'clusters'] as const;
export type ProxyConfigKind = (typeof PROXY_CONFIG_KINDS)[number];

export interface ProxyConfigOptions {
  output?: 'json' | 'table';
  controlHttp: string;
  admin?: string;
  timeoutMs?: number;
  now?: number;
}

/** The dump narrowed to what TARGET names: a pod's own certificate, the rest as its node holds it. */
export function forTarget(dump: ConfigDump, target: Target): ConfigDump {
  if (target.kind === 'node') return dump;
  const w = dump.workloads.find((x) => x.name === target.name && x.namespace === target.namespace);
  const identity = typeof w?.identity === 'string' ? w.identity : undefined;
  return identity ? { ...dump, certificates: dump.certificates.filter((c) => c.identity === identity) } : dump;
}

/** Formats one section of a dump (what the command prints, testable without a proxy). */
export function formatSection(kind: ProxyConfigKind, dump: ConfigDump, output: 'json' | 'table', now = Date.now()): string {
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  switch (kind) {
    case 'secret':
      return output === 'json' ? json(secretsConfigDump(dump.certificates)) : renderTable(SECRET_COLUMNS, secretRows(dump.certificates, now));
    case 'workload':
      return output === 'json' ? json(dump.workloads) : renderTable(WORKLOAD_COLUMNS, workloadRows(dump));
    case 'service':
      return output === 'json' ? json(dump.services) : renderTable(SERVICE_COLUMNS, serviceRows(dump));
    case 'policy':
      return output === 'json' ? json(dump.policies) : renderTable(POLICY_COLUMNS, policyRows(dump));
    case 'listeners':
    case 'routes':
    case 'clusters': {
      const e = readEnvoySection(dump.envoy);
      if (!e) throw new Error(`a node proxy holds no Envoy ${kind} (it runs the workload API); ask a gateway or waypoint (name.namespace)`);
      if (output === 'json') return json(envoyConfigDump(kind, e));
      if (kind === 'listeners') return renderTable(LISTENER_COLUMNS, listenerRows(e));
      if (kind === 'routes') return renderTable(ROUTE_COLUMNS, routeRows(e));
      return renderTable(CLUSTER_COLUMNS, clusterRows(e));
    }
  }
}

export async function runProxyConfig(kind: ProxyConfigKind, targetText: string | undefined, o: ProxyConfigOptions): Promise<string> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const target = targetText ? parseTarget(targetText) : undefined;
  let admin = o.admin;
  if (!admin) {
    if (!target) throw new Error('give a TARGET (name.namespace or node/NAME) or --admin HOST:PORT');
    admin = (await locateProxy(target, o.controlHttp, timeoutMs)).admin;
  }
  const base = /^https?:\/\//.test(admin) ? admin.replace(/\/+$/, '') : `http://${admin}`;
  const dump = readConfigDump(await fetchJson(`${base}/config_dump`, timeoutMs));
  return formatSection(kind, target ? forTarget(dump, target) : dump, o.output ?? 'table', o.now);
}
