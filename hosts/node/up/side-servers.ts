/**
 * One admin (15000), stats (15020) and ready (15021) set for the whole `weft up` process (design.md
 * 1): `/config_dump` is the node proxy's (what `weft proxy-config node/NAME` reads), the gateway's is
 * at `/gateway/config_dump` (the gateway reports that base as its admin address, so `weft proxy-config
 * NAME.NS` finds it), stats concatenate both proxies' metrics, ready waits for both.
 */
import { AdminServer, ReadyServer, StatsServer, type MetricsSource } from '../servers/index.ts';

export const GATEWAY_ADMIN_PREFIX = '/gateway';

export interface SideParts {
  host: string;
  ports: { admin: number; stats: number; ready: number };
  nodeDump(): unknown;
  gatewayDump(): unknown;
  metrics: MetricsSource[];
  ready(): true | string;
}

export async function startSideServers(p: SideParts): Promise<{ ports: { admin: number; stats: number; ready: number }; drain(): Promise<void> }> {
  const admin = new AdminServer({ host: p.host, port: p.ports.admin, configDump: p.nodeDump, extra: { [`${GATEWAY_ADMIN_PREFIX}/config_dump`]: p.gatewayDump } });
  const stats = new StatsServer({ host: p.host, port: p.ports.stats, metrics: p.metrics });
  const ready = new ReadyServer({ host: p.host, port: p.ports.ready, ready: p.ready });
  const ports = { admin: (await admin.start()).port, stats: (await stats.start()).port, ready: (await ready.start()).port };
  return { ports, drain: async () => void (await Promise.allSettled([admin.drain(), stats.drain(), ready.drain()])) };
}
