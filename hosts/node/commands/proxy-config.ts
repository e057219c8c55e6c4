/**
 * `weft proxy-config secret|workload|service|policy TARGET [-o json] [--control-http URL] [--admin
 * HOST:PORT]` (design.md 1): what one proxy holds, as istioctl's `proxy-config` / `ztunnel-config`
 * show it. TARGET is `name.namespace` (a pod, gateway or waypoint) or `node/NAME`.
 */
import type { Command } from 'commander';

interface ProxyConfigFlags {
  output?: string;
  controlHttp: string;
  admin?: string;
  timeout: string;
}

export function register(program: Command): void {
  const pc = program.command('proxy-config').alias('pc').description('show what a proxy holds (certificates, workloads, services, policies; listeners, routes, clusters of gateways and waypoints)');
  const sections = {
    secret: "certificates: SPIFFE id, issuer, serial, validity (-o json: Envoy's secrets config dump)",
    workload: 'workloads the proxy knows (istioctl ztunnel-config workload)',
    service: 'services the proxy knows (istioctl ztunnel-config service)',
    policy: 'authorization policies the proxy holds (istioctl ztunnel-config policy)',
    listeners: "a gateway's or waypoint's listeners (istioctl proxy-config listeners)",
    routes: "a gateway's or waypoint's route configurations (istioctl proxy-config routes)",
    clusters: "a gateway's or waypoint's clusters (istioctl proxy-config clusters)",
  } as const;
  for (const [kind, description] of Object.entries(sections) as Array<[keyof typeof sections, string]>) {
    pc.command(`${kind} [target]`)
      .alias(kind === 'policy' ? 'policies' : kind.endsWith('s') ? kind.slice(0, -1) : `${kind}s`)
      .description(description)
      .option('-o, --output <format>', 'table or json', 'table')
      .option('--control-http <url>', "the control plane's HTTP API, to find the proxy", 'http://127.0.0.1:15014')
      .option('--admin <host:port>', "ask this proxy's admin port directly")
      .option('--timeout <ms>', 'give up on each request after this many milliseconds', '5000')
      .action(async (target: string | undefined, flags: ProxyConfigFlags) => {
        const output = flags.output === 'json' ? 'json' : flags.output === 'table' || flags.output === 'short' ? 'table' : undefined;
        if (!output) throw new Error(`-o ${flags.output}: use table or json`);
        const { runProxyConfig } = await import('../proxy-config/run.ts');
        const text = await runProxyConfig(kind, target, { output, controlHttp: flags.controlHttp, admin: flags.admin, timeoutMs: Number(flags.timeout) || 5000 });
        process.stdout.write(text);
      });
  }
}
