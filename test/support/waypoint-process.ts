/**
 * Runs `weft waypoint` (the run form: no subcommand) from the built bundle as a child process, waits
 * for its banner, and keeps its output (banner, then JSON access-log lines with `--access-log -`).
 */
import { adminGet, readyBanner, spawnWeft, type WeftServerProcess } from './weft-child.ts';
import { eventually } from './weft-process.ts';

export interface WaypointProcess extends WeftServerProcess {
  accessLog: () => Record<string, any>[];
  stop: () => Promise<void>;
}

export async function startWaypoint(o: { control: string; rootCert: string; token: string; namespace: string; name: string; listen: string; args?: string[] }, timeoutMs = 20_000): Promise<WaypointProcess> {
  const args = ['waypoint', '--control', o.control, '--root-cert', o.rootCert, '--token', o.token, '--namespace', o.namespace, '--name', o.name, '--listen', o.listen, ...(o.args ?? [])];
  const w = await spawnWeft(args, { what: 'weft waypoint', banner: readyBanner, timeoutMs });
  const get = adminGet(o.listen);
  return {
    child: w.child,
    listen: o.listen,
    stdout: w.stdout,
    stderr: w.stderr,
    accessLog: w.accessLog,
    get,
    waitReady: async (t = 15_000) => {
      await eventually(async () => (await get(15021, '/healthz/ready').catch(() => ({ status: 0 }))).status === 200, t, 'waypoint ready');
    },
    stop: async () => {
      await w.stop();
    },
  };
}
