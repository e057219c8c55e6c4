/**
 * Runs `weft gateway` from the built bundle as a child process, waits for its banner, and gives
 * tests its admin/ready endpoints and output (banner, then JSON access-log lines with
 * `--access-log -`).
 */
import { adminGet, readyBanner, spawnWeft, type WeftServerProcess } from './weft-child.ts';
import { eventually } from './weft-process.ts';

export interface GatewayProcess extends WeftServerProcess {
  ports: { admin: number; stats: number; ready: number };
  stop: () => Promise<void>;
}

export async function startGateway(o: { control: string; rootCert: string; token: string; listen: string; ports: { admin: number; stats: number; ready: number }; args?: string[] }, timeoutMs = 20_000): Promise<GatewayProcess> {
  const args = ['gateway', '--control', o.control, '--root-cert', o.rootCert, '--token', o.token, '--listen', o.listen, '--admin-port', String(o.ports.admin), '--stats-port', String(o.ports.stats), '--ready-port', String(o.ports.ready), ...(o.args ?? [])];
  const w = await spawnWeft(args, { what: 'weft gateway', banner: readyBanner, timeoutMs });
  const get = adminGet(o.listen);
  return {
    child: w.child,
    listen: o.listen,
    ports: o.ports,
    stdout: w.stdout,
    stderr: w.stderr,
    get,
    waitReady: async (t = 15_000) => {
      await eventually(async () => (await get(o.ports.ready, '/healthz/ready').catch(() => ({ status: 0 }))).status === 200, t, 'gateway ready');
    },
    stop: async () => {
      await w.stop();
    },
  };
}
