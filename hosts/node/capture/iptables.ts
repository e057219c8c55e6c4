/**
 * Capture rules in a pod's network namespace (what istio-cni's node agent installs for ztunnel's
 * in-pod mode, design.md 3), in two dedicated nat chains so install is idempotent and removal leaves
 * nothing behind:
 *   WEFT_INPOD_OUTPUT (from OUTPUT): loopback and the proxy's own marked traffic pass; every other TCP
 *     connection the pod makes is REDIRECTed to the in-pod 15001 listener.
 *   WEFT_INPOD_PREROUTING (from PREROUTING): connections from the node's address on the pod's link
 *     (the node proxy dialling the pod's apps; packet marks do not survive the veth) and HBONE to 15008
 *     pass; every other inbound TCP connection is REDIRECTed to 15006.
 * The chains are written in one iptables-restore transaction; commands run inside the namespace with
 * nsenter. IPv4 only for now (ip6tables rules are the same with ip6tables-restore).
 */
import { isIPv4 } from 'node:net';
import { inNetns, run, runOk } from './exec.ts';

export const OUTPUT_CHAIN = 'WEFT_INPOD_OUTPUT';
export const PREROUTING_CHAIN = 'WEFT_INPOD_PREROUTING';
/** Istio's mark for the proxy's own sockets (0x539), matched under the same mask. */
export const PROXY_MARK = '0x539/0xfff';

export interface CaptureOptions {
  /** The node's address on the pod's link: the node proxy's connections to the pod's apps come from it. */
  nodeAddress: string;
  outboundPort?: number;
  inboundPort?: number;
  hbonePort?: number;
  timeoutMs?: number;
}

/** The iptables-restore input (nat table) that (re)creates both chains; pure, for tests and dry runs. */
export function planCaptureRules(opts: CaptureOptions): string {
  if (!isIPv4(opts.nodeAddress)) throw new Error(`capture: node address ${JSON.stringify(opts.nodeAddress)} is not an IPv4 address (IPv6 capture is not supported yet)`);
  const out = port(opts.outboundPort, 15001);
  const inb = port(opts.inboundPort, 15006);
  const hbone = port(opts.hbonePort, 15008);
  return [
    '*nat',
    `:${OUTPUT_CHAIN} - [0:0]`, // declaring a chain creates it or flushes it
    `:${PREROUTING_CHAIN} - [0:0]`,
    `-A ${OUTPUT_CHAIN} -o lo -j RETURN`,
    `-A ${OUTPUT_CHAIN} -m mark --mark ${PROXY_MARK} -j RETURN`,
    `-A ${OUTPUT_CHAIN} -p tcp -j REDIRECT --to-ports ${out}`,
    `-A ${PREROUTING_CHAIN} -i lo -j RETURN`,
    `-A ${PREROUTING_CHAIN} -s ${opts.nodeAddress}/32 -j RETURN`,
    `-A ${PREROUTING_CHAIN} -p tcp --dport ${hbone} -j RETURN`,
    `-A ${PREROUTING_CHAIN} -p tcp -j REDIRECT --to-ports ${inb}`,
    'COMMIT',
    '',
  ].join('\n');
}

const JUMPS = [
  ['OUTPUT', OUTPUT_CHAIN],
  ['PREROUTING', PREROUTING_CHAIN],
] as const;

/** Installs (or replaces) the pod's capture rules; safe to repeat. */
export async function installCapture(netnsPath: string, opts: CaptureOptions): Promise<void> {
  const t = { timeoutMs: opts.timeoutMs ?? 10_000 };
  await runOk(...inNetns(netnsPath, 'iptables-restore', ['-w', '5', '--noflush']), { ...t, input: planCaptureRules(opts) });
  for (const [builtin, chain] of JUMPS) {
    const present = await run(...inNetns(netnsPath, 'iptables', ['-w', '5', '-t', 'nat', '-C', builtin, '-j', chain]), t);
    if (present.code !== 0) await runOk(...inNetns(netnsPath, 'iptables', ['-w', '5', '-t', 'nat', '-I', builtin, '1', '-j', chain]), t);
  }
}

/** Removes the jumps and both chains; safe to repeat, and a no-op where they were never installed. */
export async function removeCapture(netnsPath: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const t = { timeoutMs: opts.timeoutMs ?? 10_000 };
  const ipt = (...args: string[]) => run(...inNetns(netnsPath, 'iptables', ['-w', '5', '-t', 'nat', ...args]), t);
  for (const [builtin, chain] of JUMPS) {
    // delete every jump (a crashed earlier run may have left more than one), bounded
    for (let i = 0; i < 16 && (await ipt('-D', builtin, '-j', chain)).code === 0; i++);
  }
  for (const [, chain] of JUMPS) {
    if ((await ipt('-S', chain)).code !== 0) continue; // no such chain
    const flushed = await ipt('-F', chain);
    const deleted = flushed.code === 0 ? await ipt('-X', chain) : flushed;
    if (deleted.code !== 0) throw new Error(`capture: cannot remove chain ${chain} in ${netnsPath}: ${deleted.stderr.trim()}`);
  }
}

/** True when both chains exist and are jumped to. */
export async function captureInstalled(netnsPath: string, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  const t = { timeoutMs: opts.timeoutMs ?? 10_000 };
  for (const [builtin, chain] of JUMPS) {
    if ((await run(...inNetns(netnsPath, 'iptables', ['-w', '5', '-t', 'nat', '-C', builtin, '-j', chain]), t)).code !== 0) return false;
  }
  return true;
}

function port(p: number | undefined, dflt: number): number {
  const v = p ?? dflt;
  if (!Number.isInteger(v) || v < 1 || v > 65535) throw new Error(`capture: invalid port ${String(p)}`);
  return v;
}
