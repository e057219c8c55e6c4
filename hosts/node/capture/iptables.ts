/**
 * Capture rules in a pod's network namespace (what istio-cni's node agent installs for ztunnel's
 * in-pod mode, design.md 3), in two dedicated nat chains so install is idempotent and removal leaves
 * nothing behind:
 *   WEFT_INPOD_OUTPUT (from OUTPUT): loopback and the proxy's own marked traffic pass; with DNS capture,
 *     UDP and TCP to port 53 are REDIRECTed to the in-pod DNS listener (15053), before the blanket TCP
 *     rule (as Istio's in-pod rules order them); every other TCP connection goes to 15001.
 *   WEFT_INPOD_PREROUTING (from PREROUTING): connections from the node's address on the pod's link
 *     (the node proxy dialling the pod's apps; packet marks do not survive the veth) and HBONE to 15008
 *     pass; every other inbound TCP connection is REDIRECTed to 15006.
 * The same chains are written for IPv4 (iptables) and IPv6 (ip6tables), as ztunnel's in-pod rules are:
 * REDIRECT from OUTPUT sends v6 traffic to ::1, from PREROUTING to the incoming interface's address,
 * so the in-pod listeners must exist on both families. Without the node's IPv6 address on the pod's
 * link (the pod has no IPv6 address) the v6 rule set is OUTPUT only: nothing can dial the pod over v6.
 * Each change is read (iptables-save), planned by a pure function, and applied in one iptables-restore
 * transaction, all inside the namespace with nsenter.
 */
import { access } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { inNetns, runOk } from './exec.ts';

export const OUTPUT_CHAIN = 'WEFT_INPOD_OUTPUT';
export const PREROUTING_CHAIN = 'WEFT_INPOD_PREROUTING';
/** Istio's mark for the proxy's own sockets (0x539), matched under the same mask. */
export const PROXY_MARK = '0x539/0xfff';

export type IpFamily = 4 | 6;

export interface CaptureOptions {
  /** 4 (iptables, the default) or 6 (ip6tables). */
  family?: IpFamily;
  /**
   * The node's address on the pod's link: the node proxy's connections to the pod's apps come from it.
   * Required for IPv4; for IPv6, leaving it out writes the OUTPUT chain only (no inbound capture).
   */
  nodeAddress?: string;
  outboundPort?: number;
  inboundPort?: number;
  hbonePort?: number;
  /** DNS capture: UDP and TCP to port 53 go to this in-pod port (15053). Undefined: DNS is not captured. */
  dnsPort?: number;
  timeoutMs?: number;
}

const JUMPS = [
  ['OUTPUT', OUTPUT_CHAIN],
  ['PREROUTING', PREROUTING_CHAIN],
] as const;

const jumpLine = (builtin: string, chain: string) => `-A ${builtin} -j ${chain}`;
const lines = (natSave: string) => natSave.split('\n').map((l) => l.trim());

/**
 * The iptables-restore (or ip6tables-restore, by `opts.family`) input for `--noflush` that (re)creates
 * the chains and adds the jumps that `natSave` (the namespace's current `iptables-save -t nat`) lacks.
 * Pure, for tests and dry runs.
 */
export function planCaptureRules(opts: CaptureOptions, natSave = ''): string {
  const family = opts.family ?? 4;
  if (family !== 4 && family !== 6) throw new Error(`capture: family ${String(family)} is neither 4 nor 6`);
  const node = opts.nodeAddress;
  if (family === 4 && !(node !== undefined && isIPv4(node))) throw new Error(`capture: node address ${JSON.stringify(node)} is not an IPv4 address`);
  if (family === 6 && node !== undefined && !isIPv6(node)) throw new Error(`capture: node address ${JSON.stringify(node)} is not an IPv6 address`);
  const out = port(opts.outboundPort, 15001);
  const inb = port(opts.inboundPort, 15006);
  const hbone = port(opts.hbonePort, 15008);
  const dns = opts.dnsPort === undefined ? undefined : port(opts.dnsPort, 15053);
  const inbound = node !== undefined;
  const have = new Set(lines(natSave));
  const jumps = JUMPS.filter(([b]) => inbound || b === 'OUTPUT');
  return [
    '*nat',
    `:${OUTPUT_CHAIN} - [0:0]`, // declaring a chain creates it, or flushes it when it exists
    ...(inbound ? [`:${PREROUTING_CHAIN} - [0:0]`] : []),
    `-A ${OUTPUT_CHAIN} -o lo -j RETURN`,
    `-A ${OUTPUT_CHAIN} -m mark --mark ${PROXY_MARK} -j RETURN`,
    // DNS before the blanket TCP rule, or TCP 53 would land on 15001
    ...(dns === undefined ? [] : [`-A ${OUTPUT_CHAIN} -p udp --dport 53 -j REDIRECT --to-ports ${dns}`, `-A ${OUTPUT_CHAIN} -p tcp --dport 53 -j REDIRECT --to-ports ${dns}`]),
    `-A ${OUTPUT_CHAIN} -p tcp -j REDIRECT --to-ports ${out}`,
    ...(inbound
      ? [
          `-A ${PREROUTING_CHAIN} -i lo -j RETURN`,
          `-A ${PREROUTING_CHAIN} -s ${node}/${family === 4 ? 32 : 128} -j RETURN`,
          `-A ${PREROUTING_CHAIN} -p tcp --dport ${hbone} -j RETURN`,
          `-A ${PREROUTING_CHAIN} -p tcp -j REDIRECT --to-ports ${inb}`,
        ]
      : []),
    ...jumps.filter(([b, c]) => !have.has(jumpLine(b, c))).map(([b, c]) => `-I ${b} 1 -j ${c}`),
    // a v6 set re-planned without inbound capture must not keep an earlier PREROUTING chain
    ...(inbound ? [] : removalOps(natSave, [JUMPS[1]])),
    'COMMIT',
    '',
  ].join('\n');
}

/** The restore input that deletes every jump to our chains and the chains (either family); '' when none exist. */
export function planCaptureRemoval(natSave: string): string {
  const ops = removalOps(natSave, JUMPS);
  return ops.length ? ['*nat', ...ops, 'COMMIT', ''].join('\n') : '';
}

function removalOps(natSave: string, jumps: ReadonlyArray<readonly [string, string]>): string[] {
  const all = lines(natSave);
  const ops: string[] = [];
  for (const [b, c] of jumps) for (const l of all) if (l === jumpLine(b, c)) ops.push(`-D ${b} -j ${c}`); // a crashed run may have left several
  for (const [, c] of jumps) if (all.some((l) => l.startsWith(`:${c} `))) ops.push(`-F ${c}`, `-X ${c}`);
  return ops;
}

/** Whether `natSave` shows both chains in place and jumped to (`outputOnly`: the OUTPUT chain alone suffices). */
export function captureInSave(natSave: string, outputOnly = false): boolean {
  const all = lines(natSave);
  return JUMPS.filter(([b]) => !outputOnly || b === 'OUTPUT').every(([b, c]) => all.includes(jumpLine(b, c)) && all.some((l) => l.startsWith(`:${c} `)));
}

const tool = (family: IpFamily, what: 'save' | 'restore') => `${family === 6 ? 'ip6tables' : 'iptables'}-${what}`;

function natSave(netnsPath: string, family: IpFamily, timeoutMs: number): Promise<string> {
  return runOk(...inNetns(netnsPath, tool(family, 'save'), ['-t', 'nat']), { timeoutMs });
}

function restore(netnsPath: string, family: IpFamily, input: string, timeoutMs: number): Promise<string> {
  return runOk(...inNetns(netnsPath, tool(family, 'restore'), ['-w', '5', '--noflush']), { timeoutMs, input });
}

/** Installs (or replaces) the pod's capture rules of one family (`opts.family`, default 4); safe to repeat. */
export async function installCapture(netnsPath: string, opts: CaptureOptions): Promise<void> {
  const t = opts.timeoutMs ?? 10_000;
  const family = opts.family ?? 4;
  planCaptureRules(opts); // validates before touching anything
  const plan = planCaptureRules(opts, await natSave(netnsPath, family, t));
  await restore(netnsPath, family, plan, t);
}

/**
 * Removes the jumps and the chains of both families (or those given); safe to repeat, and a no-op
 * where they were never installed. IPv6 is skipped where ip6tables cannot run (not installed, or the
 * namespace has no IPv6): then no v6 rule can have been installed either.
 */
export async function removeCapture(netnsPath: string, opts: { timeoutMs?: number; families?: readonly IpFamily[] } = {}): Promise<void> {
  const t = opts.timeoutMs ?? 10_000;
  if (!(await access(netnsPath).then(() => true, () => false))) return; // the namespace is gone, and its rules with it
  for (const family of opts.families ?? ([4, 6] as const)) {
    let save: string;
    try {
      save = await natSave(netnsPath, family, t);
    } catch (err) {
      if (family === 6) continue;
      throw err;
    }
    const plan = planCaptureRemoval(save);
    if (plan) await restore(netnsPath, family, plan, t);
  }
}

/** True when the chains exist and are jumped to (IPv4 unless `family` says 6; v6 may be OUTPUT only). */
export async function captureInstalled(netnsPath: string, opts: { timeoutMs?: number; family?: IpFamily } = {}): Promise<boolean> {
  const family = opts.family ?? 4;
  return captureInSave(await natSave(netnsPath, family, opts.timeoutMs ?? 10_000), family === 6);
}

function port(p: number | undefined, dflt: number): number {
  const v = p ?? dflt;
  if (!Number.isInteger(v) || v < 1 || v > 65535) throw new Error(`capture: invalid port ${String(p)}`);
  return v;
}
