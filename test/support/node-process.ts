/**
 * Runs `weft node` from the built bundle as a child process (as test/support/weft-process.ts runs
 * `weft control`), waits for its banner, and keeps its stdout (banner, then one JSON access-log line
 * per connection) and stderr for assertions.
 */
import { adminGet, readyBanner, spawnWeft, type WeftServerProcess } from './weft-child.ts';
import { eventually } from './weft-process.ts';

export interface NodeProcess extends WeftServerProcess {
  /** Parsed access-log lines so far. */
  accessLog: () => Record<string, any>[];
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export async function startNode(o: { control: string; rootCert: string; token: string; nodeName: string; listen: string; args?: string[] }, timeoutMs = 20_000): Promise<NodeProcess> {
  const args = ['node', '--control', o.control, '--root-cert', o.rootCert, '--token', o.token, '--node-name', o.nodeName, '--listen', o.listen, '--capture', 'none', ...(o.args ?? [])];
  const w = await spawnWeft(args, { what: 'weft node', banner: readyBanner, timeoutMs });
  const get = adminGet(o.listen);
  return {
    child: w.child,
    listen: o.listen,
    stdout: w.stdout,
    stderr: w.stderr,
    accessLog: w.accessLog,
    get,
    waitReady: async (t = 15_000) => {
      await eventually(async () => (await get(15021, '/healthz/ready')).status === 200, t, `${o.nodeName} ready`);
    },
    stop: w.stop,
  };
}
