/**
 * What `weft gateway` and `weft waypoint` share when they run: the Gateway named by the join token,
 * the L7Proxy built from the common flags, its banner and its drain on signals.
 */
import { parseSubject } from '../ca/tokens.ts';
import type { L7ProxyConfig } from '../l7-proxy/l7-proxy.ts';
import { drainOnSignals, port, stderrLog } from './flags.ts';
import { tracingConfig, type TracingFlags } from './tracing-flags.ts';

export interface L7RunFlags extends TracingFlags {
  control: string;
  rootCert: string;
  token: string;
  serviceAccount?: string;
  listen: string;
  trustDomain: string;
  adminPort: string;
  statsPort: string;
  readyPort: string;
  accessLog?: string;
  drainMs: string;
  verbose?: boolean;
}

/** The gateway or waypoint a join token's subject names, read without verifying (the CA verifies). */
export function l7NameFromToken(token: string, kind: 'gateway' | 'waypoint'): { namespace: string; name: string } | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const caller = parseSubject((JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }).sub);
    return caller.kind === kind ? { namespace: caller.namespace, name: caller.name } : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the proxy, prints its banner (role-specific lines after the common ones) and drains on SIGINT/SIGTERM. */
export async function runL7(
  f: L7RunFlags,
  who: Pick<L7ProxyConfig, 'role' | 'namespace' | 'name' | 'labels'> & Partial<Pick<L7ProxyConfig, 'hbonePort'>>,
  banner: (ports: Record<string, number>) => { first: string[]; last: string[] },
): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const { L7Proxy } = await import('../l7-proxy/l7-proxy.ts');
  const proxy = new L7Proxy({
    ...who,
    control: f.control,
    rootCertPem: await readFile(f.rootCert, 'utf8'),
    token: f.token,
    trustDomain: f.trustDomain,
    ...(f.serviceAccount ? { serviceAccount: f.serviceAccount } : {}),
    listen: f.listen,
    ports: { admin: port(f.adminPort), stats: port(f.statsPort), ready: port(f.readyPort) },
    ...(f.accessLog ? { accessLog: f.accessLog } : {}),
    tracing: tracingConfig(f),
    log: stderrLog(f.verbose),
  });
  await proxy.start();
  const p = proxy.ports;
  const h = f.listen;
  const b = banner(p);
  process.stdout.write(
    [
      `weft ${who.role} ${who.namespace}/${who.name} is running (control plane ${f.control}, identity ${proxy.identity})`,
      ...b.first,
      `  admin             http://${h}:${p.admin}/config_dump`,
      `  stats             http://${h}:${p.stats}/stats/prometheus`,
      `  ready             http://${h}:${p.ready}/healthz/ready`,
      ...b.last,
      '',
    ].join('\n'),
  );
  drainOnSignals(() => proxy.drain(Number(f.drainMs) || 5000));
}
