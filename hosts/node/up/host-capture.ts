/**
 * `weft up --capture`: transparent capture of the device's own programs, in the host's network
 * namespace. Only connections to the mesh's service addresses (Service clusterIPs and ServiceEntry
 * addresses, on their declared TCP ports) are REDIRECTed to the node proxy's outbound listener; the
 * rest of the device's traffic is left alone. That is also what keeps Weft's own traffic out: its
 * proxies never dial a service address (they pick an endpoint first and dial the workload's address,
 * or HBONE on 15008), so no mark or owner match is needed, and the rules hold whatever user Weft runs
 * as. A connection that still reaches the listener without a redirect (someone dialling 15001
 * itself) is refused, as the in-pod listener does.
 *
 * The rules live in one nat chain, rewritten in one iptables-restore transaction whenever the
 * service addresses change, removed on exit, and removed at start when a crashed run left them.
 */
import { isIPv4 } from 'node:net';
import { runOk } from '../capture/exec.ts';

export const HOST_CAPTURE_CHAIN = 'WEFT_UP_OUTPUT';
const JUMP = `-A OUTPUT -j ${HOST_CAPTURE_CHAIN}`;

/** One service address to capture. */
export interface CapturedServicePort {
  ip: string;
  port: number;
}

export interface HostCaptureRules {
  /** The node proxy's outbound listener (on 127.0.0.1: a REDIRECT from OUTPUT lands on loopback). */
  proxyPort: number;
  targets: readonly CapturedServicePort[];
}

const lines = (natSave: string) => natSave.split('\n').map((l) => l.trim());

/**
 * The iptables-restore input (`--noflush`) that (re)creates the chain with one REDIRECT per service
 * address and port, and adds the jump from OUTPUT when `natSave` lacks it. IPv6 addresses are left
 * out (counted in `skipped`): ip6tables rules are not written yet. Pure, for tests and dry runs.
 */
export function planHostCapture(rules: HostCaptureRules, natSave = ''): { plan: string; skipped: number } {
  if (!Number.isInteger(rules.proxyPort) || rules.proxyPort < 1 || rules.proxyPort > 65535) throw new Error(`capture: invalid port ${rules.proxyPort}`);
  const seen = new Set<string>();
  const out: string[] = [];
  let skipped = 0;
  for (const t of rules.targets) {
    if (!isIPv4(t.ip)) {
      skipped++;
      continue;
    }
    const key = `${t.ip}:${t.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(`-A ${HOST_CAPTURE_CHAIN} -d ${t.ip}/32 -p tcp --dport ${t.port} -j REDIRECT --to-ports ${rules.proxyPort}`);
  }
  const hasJump = lines(natSave).includes(JUMP);
  const plan = ['*nat', `:${HOST_CAPTURE_CHAIN} - [0:0]`, ...out, ...(hasJump ? [] : [`-I OUTPUT 1 -j ${HOST_CAPTURE_CHAIN}`]), 'COMMIT', ''].join('\n');
  return { plan, skipped };
}

/** Deletes every jump to the chain (a crashed run may have left several) and the chain; '' when there is none. */
export function planHostCaptureRemoval(natSave: string): string {
  const all = lines(natSave);
  const ops = all.filter((l) => l === JUMP).map(() => `-D OUTPUT -j ${HOST_CAPTURE_CHAIN}`);
  if (all.some((l) => l.startsWith(`:${HOST_CAPTURE_CHAIN} `))) ops.push(`-F ${HOST_CAPTURE_CHAIN}`, `-X ${HOST_CAPTURE_CHAIN}`);
  return ops.length ? ['*nat', ...ops, 'COMMIT', ''].join('\n') : '';
}

/** The REDIRECT rules now in place, as `ip:port` (tests, `weft up`'s banner). */
export function capturedInSave(natSave: string): string[] {
  const re = new RegExp(`^-A ${HOST_CAPTURE_CHAIN} -d (\\S+)/32 -p tcp -m tcp --dport (\\d+) -j REDIRECT`);
  return lines(natSave).flatMap((l) => {
    const m = re.exec(l);
    return m ? [`${m[1]}:${m[2]}`] : [];
  });
}

/** Applies the plans with iptables-save / iptables-restore; one change at a time. */
export class HostCapture {
  #queue: Promise<unknown> = Promise.resolve();
  #lastKey = '';

  constructor(private readonly opts: { proxyPort: number; timeoutMs?: number; log: (level: 'info' | 'warn', msg: string) => void }) {}

  /** Removes rules a crashed run left, then checks iptables is usable (a clear error when it is not). */
  async start(): Promise<void> {
    await this.#serial(async () => {
      const save = await this.#save().catch((e: Error) => {
        throw new Error(`--capture needs iptables (as root, with the nat table): ${e.message}`);
      });
      const removal = planHostCaptureRemoval(save);
      if (removal) {
        this.opts.log('warn', `capture: removing rules left by an earlier run (chain ${HOST_CAPTURE_CHAIN})`);
        await this.#restore(removal);
      }
    });
  }

  /** Makes the rules match `targets`; a no-op when they did not change. */
  sync(targets: readonly CapturedServicePort[]): Promise<void> {
    const key = targets.map((t) => `${t.ip}:${t.port}`).sort().join(',');
    if (key === this.#lastKey) return this.#queue.then(() => {});
    this.#lastKey = key;
    return this.#serial(async () => {
      const { plan, skipped } = planHostCapture({ proxyPort: this.opts.proxyPort, targets }, await this.#save());
      await this.#restore(plan);
      if (skipped) this.opts.log('warn', `capture: ${skipped} IPv6 service address(es) not captured (IPv6 capture is not supported yet)`);
    });
  }

  /** Removes the chain and its jump; safe to repeat. */
  stop(): Promise<void> {
    this.#lastKey = '';
    return this.#serial(async () => {
      const removal = planHostCaptureRemoval(await this.#save());
      if (removal) await this.#restore(removal);
    });
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  #save(): Promise<string> {
    return runOk('iptables-save', ['-t', 'nat'], { timeoutMs: this.opts.timeoutMs ?? 10_000 });
  }

  async #restore(input: string): Promise<void> {
    await runOk('iptables-restore', ['-w', '5', '--noflush'], { input, timeoutMs: this.opts.timeoutMs ?? 10_000 });
  }
}
