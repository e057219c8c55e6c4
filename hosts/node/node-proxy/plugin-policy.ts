/**
 * L4 policy plugins on the node proxy's inbound path (design.md section 6, WIT `l4-policy`): once
 * the mesh's own L4 authorization allowed a connection, each l4-policy plugin whose `workloads` is
 * empty or names the destination workload's uid is asked, in the PluginSet's order; the first deny
 * refuses the connection (an HBONE CONNECT answers 403; the access log and
 * istio_tcp_connections_closed_total carry DENY with the plugin's name). A FAIL_CLOSE plugin that
 * fails denies, a FAIL_OPEN one allows (the runtime's answer). No plugin: one undefined check.
 */
import type { L4Connection, L4PolicyHandle, PluginSet } from '../../../core/plugin/contract.ts';

export interface PluginDeny {
  plugin: string;
  reason: string;
}

/** The first l4-policy deny for a connection to `workloadUid`, or undefined (allowed). */
export function checkL4Policies(set: PluginSet | undefined, workloadUid: string, conn: L4Connection): PluginDeny | undefined {
  if (set === undefined) return undefined;
  const policies = set.l4Policies;
  if (policies.length === 0) return undefined;
  for (const p of policies) {
    if (!applies(p, workloadUid)) continue;
    const d = p.check(conn);
    if (d.tag === 'deny') return { plugin: p.name, reason: d.val };
  }
  return undefined;
}

function applies(p: L4PolicyHandle, uid: string): boolean {
  const w = p.workloads;
  return w.length === 0 || w.includes(uid);
}

/** The HTTP status an HBONE CONNECT refused by a plugin gets (as an explicit deny). */
export const PLUGIN_DENY_STATUS = 403;

/** `ip:port` -> address and port (IPv6 in brackets or bare with the last colon). */
export function splitHostPort(target: string): { address: string; port: number } {
  const i = target.lastIndexOf(':');
  if (i < 0) return { address: target, port: 0 };
  const host = target.slice(0, i);
  return { address: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(target.slice(i + 1)) || 0 };
}
