/**
 * The node's address on a pod's link: the source address the kernel picks when the node proxy (in the
 * node's namespace) dials the pod. The pod's inbound capture rule exempts it (iptables.ts).
 */
import { isIP } from 'node:net';
import { runOk } from './exec.ts';

/** Asks the routing table (`ip -j route get <podIp>`) of the calling process's namespace. */
export async function nodeAddressTowards(podIp: string, opts: { timeoutMs?: number } = {}): Promise<string> {
  if (!isIP(podIp)) throw new Error(`not an IP address: ${JSON.stringify(podIp)}`);
  const out = await runOk('ip', ['-j', isIP(podIp) === 6 ? '-6' : '-4', 'route', 'get', podIp], { timeoutMs: opts.timeoutMs ?? 5000 });
  const routes = JSON.parse(out) as Array<{ prefsrc?: string; dev?: string }>;
  const src = routes[0]?.prefsrc;
  if (!src) throw new Error(`no source address towards ${podIp} (route: ${out.trim()}); is the pod's link up and addressed on this node?`);
  return src;
}

export interface NetnsIpv6 {
  /** IPv6 works in the namespace: its loopback has ::1 (so REDIRECT from OUTPUT has somewhere to go). */
  enabled: boolean;
  /** The namespace's global IPv6 addresses (not tentative), e.g. a pod's v6 address. */
  addresses: string[];
}

/** What IPv6 the namespace at `netnsPath` has (`ip -j -6 addr show` inside it). */
export async function netnsIpv6(netnsPath: string, opts: { timeoutMs?: number } = {}): Promise<NetnsIpv6> {
  const out = await runOk('nsenter', [`--net=${netnsPath}`, '--', 'ip', '-j', '-6', 'addr', 'show'], { timeoutMs: opts.timeoutMs ?? 5000 });
  const links = (out.trim() ? JSON.parse(out) : []) as Array<{ ifname?: string; addr_info?: Array<{ local?: string; scope?: string; tentative?: boolean; dadfailed?: boolean }> }>;
  const all = links.flatMap((l) => (l.addr_info ?? []).map((a) => ({ ...a, ifname: l.ifname })));
  return {
    enabled: all.some((a) => a.local === '::1'),
    addresses: all.filter((a) => a.scope === 'global' && a.local && !a.tentative && !a.dadfailed).map((a) => a.local!),
  };
}
