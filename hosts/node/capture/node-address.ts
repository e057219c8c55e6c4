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
