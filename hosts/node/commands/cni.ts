/**
 * `weft cni add|del --pod NS/NAME --netns PATH [--socket FILE]`: what a chained CNI plugin (or a test)
 * calls when a pod's network namespace is made or removed (design.md 1, 3). It only tells the local
 * node proxy; the node proxy decides whether the pod is in the mesh and sets up its capture.
 */
import type { Command } from 'commander';

interface CniOptions {
  pod: string;
  netns?: string;
  socket?: string;
  timeout?: string;
}

export function register(program: Command): void {
  const cni = program.command('cni').description("tell the local node proxy about a pod's network namespace (CNI ADD/DEL)");
  for (const op of ['add', 'del'] as const) {
    cni
      .command(op)
      .description(op === 'add' ? "a pod's network namespace was made: enrol it if it is in the mesh" : "a pod's network namespace is going: remove its capture")
      .requiredOption('--pod <ns/name>', "the pod, as NAMESPACE/NAME")
      [op === 'add' ? 'requiredOption' : 'option']('--netns <path>', "the pod's network namespace (e.g. /run/netns/NAME or /proc/PID/ns/net)")
      .option('--socket <file>', "the node proxy's Unix socket (default /var/run/weft/node.sock)")
      .option('--timeout <ms>', 'give up after this many milliseconds', '30000')
      .action(async (opts: CniOptions) => {
        const { cniCall } = await import('../cni/client.ts');
        const { DEFAULT_CNI_SOCKET, podRefError } = await import('../cni/protocol.ts');
        const bad = podRefError(opts.pod);
        if (bad) throw new Error(bad);
        const timeoutMs = Number(opts.timeout);
        if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error(`--timeout must be a positive number of milliseconds, not ${opts.timeout}`);
        const { resolve } = await import('node:path');
        const body = opts.netns ? { pod: opts.pod, netns: resolve(opts.netns) } : { pod: opts.pod };
        const answer = await cniCall(opts.socket ?? DEFAULT_CNI_SOCKET, op, body, { timeoutMs });
        console.log(`weft cni ${op} ${opts.pod}: ok${answer.message ? ` (${answer.message})` : ''}`);
      });
  }
}
