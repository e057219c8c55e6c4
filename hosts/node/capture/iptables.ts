/**
 * Capture rules in a pod's network namespace (what istio-cni's node agent installs for ztunnel's
 * in-pod mode, design.md 3), in two dedicated nat chains so install is idempotent and removal leaves
 * nothing behind:
 *   WEFT_INPOD_OUTPUT (from OUTPUT): loopback and the proxy's own marked traffic pass; every other TCP
 *     connection the pod makes is REDIRECTed to the in-pod 15001 listener.
 *   WEFT_INPOD_PREROUTING (from PREROUTING): connections from the node's address on the pod's link
 *     (the node proxy dialling the pod's apps; packet marks do not survive the veth) and HBONE to 15008
 *     pass; every other inbound TCP connection is REDIRECTed to 15006.
 * Each change is read (iptables-save), planned by a pure function, and applied in one iptables-restore
 * transaction, all inside the namespace with nsenter. IPv4 only for now (ip6tables takes the same rules).
 */
import { access } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { inNetns, runOk } from './exec.ts';

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

const JUMPS = [
  ['OUTPUT', OUTPUT_CHAIN],
  ['PREROUTING', PREROUTING_CHAIN],
] as const;

const jumpLine = (builtin: string, chain: string) => `-A ${builtin} -j ${chain}`;
const lines = (natSave: string) => natSave.split('\n').map((l) => l.trim());

/**
 * The iptables-restore input (for `--noflush`) that (re)creates both chains and adds the jumps that
 * `natSave` (the namespace's current `iptables-save -t nat`) lacks. Pure, for tests and dry runs.
 */
export function planCaptureRules(opts: CaptureOptions, natSave = ''): string {
  if (!isIPv4(opts.nodeAddress)) throw new Error(`capture: node address ${JSON.stringify(opts.nodeAddress)} is not an IPv4 address (IPv6 capture is not supported yet)`);
  const out = port(opts.outboundPort, 15001);
  const inb = port(opts.inboundPort, 15006);
  const hbone = port(opts.hbonePort, 15008);
  const have = new Set(lines(natSave));
  return [
    '*nat',
    `:${OUTPUT_CHAIN} - [0:0]`, // declaring a chain creates it, or flushes it when it exists
    `:${PREROUTING_CHAIN} - [0:0]`,
    `-A ${OUTPUT_CHAIN} -o lo -j RETURN`,
    `-A ${OUTPUT_CHAIN} -m mark --mark ${PROXY_MARK} -j RETURN`,
    `-A ${OUTPUT_CHAIN} -p tcp -j REDIRECT --to-ports ${out}`,
    `-A ${PREROUTING_CHAIN} -i lo -j RETURN`,
    `-A ${PREROUTING_CHAIN} -s ${opts.nodeAddress}/32 -j RETURN`,
    `-A ${PREROUTING_CHAIN} -p tcp --dport ${hbone} -j RETURN`,
    `-A ${PREROUTING_CHAIN} -p tcp -j REDIRECT --to-ports ${inb}`,
    ...JUMPS.filter(([b, c]) => !have.has(jumpLine(b, c))).map(([b, c]) => `-I ${b} 1 -j ${c}`),
    'COMMIT',
    '',
  ].join('\n');
}

/** The iptables-restore input that deletes every jump to our chains and the chains; '' when none exist. */
export function planCaptureRemoval(natSave: string): string {
  const all = lines(natSave);
  const ops: string[] = [];
  for (const [b, c] of JUMPS) for (const l of all) if (l === jumpLine(b, c)) ops.push(`-D ${b} -j ${c}`); // a crashed run may have left several
  for (const [, c] of JUMPS) if (all.some((l) => l.startsWith(`:${c} `))) ops.push(`-F ${c}`, `-X ${c}`);
  return ops.length ? ['*nat', ...ops, 'COMMIT', ''].join('\n') : '';
}

/** Whether `natSave` shows both chains in place and jumped to. */
export function captureInSave(natSave: string): boolean {
  const all = lines(natSave);
  return JUMPS.every(([b, c]) => all.includes(jumpLine(b, c)) && all.some((l) => l.startsWith(`:${c} `)));
}

function natSave(netnsPath: string, timeoutMs: number): Promise<string> {
  return runOk(...inNetns(netnsPath, 'iptables-save', ['-t', 'nat']), { timeoutMs });
}

function restore(netnsPath: string, input: string, timeoutMs: number): Promise<string> {
  return runOk(...inNetns(netnsPath, 'iptables-restore', ['-w', '5', '--noflush']), { timeoutMs, input });
}

/** Installs (or replaces) the pod's capture rules; safe to repeat. */
export async function installCapture(netnsPath: string, opts: CaptureOptions): Promise<void> {
  const t = opts.timeoutMs ?? 10_000;
  const plan = planCaptureRules(opts, await natSave(netnsPath, t)); // validates before touching anything
  await restore(netnsPath, plan, t);
}

/** Removes the jumps and both chains; safe to repeat, and a no-op where they were never installed. */
export async function removeCapture(netnsPath: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const t = opts.timeoutMs ?? 10_000;
  if (!(await access(netnsPath).then(() => true, () => false))) return; // the namespace is gone, and its rules with it
  const plan = planCaptureRemoval(await natSave(netnsPath, t));
  if (plan) await restore(netnsPath, plan, t);
}

/** True when both chains exist and are jumped to. */
export async function captureInstalled(netnsPath: string, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  return captureInSave(await natSave(netnsPath, opts.timeoutMs ?? 10_000));
}

function port(p: number | undefined, dflt: number): number {
  const v = p ?? dflt;
  if (!Number.isInteger(v) || v < 1 || v > 65535) throw new Error(`capture: invalid port ${String(p)}`);
  return v;
}
