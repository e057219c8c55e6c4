/**
 * `weft node --control HOST:PORT --root-cert FILE --token TOKEN --node-name NAME [--capture
 * iptables|none] [--no-dns-capture] [--socket FILE] [--listen HOST] [--*-port N] [--cert-ttl SECONDS] [--load-balancing
 * round-robin|least-connections]`: run a node proxy (design.md 1).
 * Prints where it listens; SIGTERM/SIGINT drain (listeners stop, tunnels get the grace period).
 */
import type { Command } from 'commander';
import { drainOnSignals, port, proxySideOptions, stderrLog } from './flags.ts';

interface NodeFlags {
  control: string;
  rootCert: string;
  token: string;
  nodeName: string;
  capture: string;
  dnsCapture: boolean;
  socket?: string;
  listen: string;
  trustDomain: string;
  adminPort: string;
  statsPort: string;
  readyPort: string;
  socksPort: string;
  dnsPort: string;
  accessLog?: string;
  drainMs: string;
  certTtl?: string;
  loadBalancing: string;
  verbose?: boolean;
  pageOut: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('node')
    .description("run a node proxy: mTLS (HBONE) for the workloads of this node, ztunnel's job")
    .requiredOption('--control <host:port>', "the control plane's TLS xDS + CA port (15012)")
    .requiredOption('--root-cert <file>', 'the mesh root certificate (PEM)')
    .requiredOption('--token <token>', 'join token (weft token create --node NAME)')
    .requiredOption('--node-name <name>', "this node's name (the token's node)")
    .option('--capture <mode>', 'iptables: capture enrolled pods; none: SOCKS5/CONNECT only', 'iptables')
    .option(
      '--dns-capture',
      "with capture, send enrolled pods' UDP and TCP port 53 to this proxy's DNS (mesh names answered, the rest forwarded). " +
        "On by default, as Istio's ambient default since 1.25 (cni.ambient.dnsCapture=true): programs find mesh services and ServiceEntry hosts by name without cluster DNS",
      true,
    )
    .option('--no-dns-capture', "leave enrolled pods' DNS alone (Istio's cni.ambient.dnsCapture=false)")
    .option('--socket <file>', 'Unix socket for weft cni (default /var/run/weft/node.sock with capture)')
    .option('--listen <host>', "address of this proxy's listeners (15008, 15080, 15053, 15000, 15020, 15021)", '127.0.0.1')
    .option('--socks-port <port>', 'SOCKS5 and HTTP CONNECT', '15080')
    .option('--dns-port <port>', 'DNS proxy', '15053')
    .option('--cert-ttl <seconds>', 'requested lifetime of workload certificates (default 24 h; tests use short ones to force rotations)')
    .option(
      '--load-balancing <policy>',
      "how a service's endpoint is picked for a new connection: round-robin, or least-connections (fewest open connections from this node proxy). " +
        'Node-wide: in ambient, DestinationRule loadBalancer settings apply in waypoints, not in the node proxy (as in ztunnel)',
      'round-robin',
    )
    .option('--no-page-out', 'keep start-up code resident (by default, after start and when the process falls quiet after traffic, pages of the node executable and libraries no other process maps go back to the kernel, read again from disk if used)')
    .option('-v, --verbose', 'debug logs on stderr');
  proxySideOptions(cmd, { accessLog: 'JSON access log file (default stdout)', drain: 'grace for open connections on SIGTERM' })
    .action(async (f: NodeFlags) => {
      if (f.capture !== 'iptables' && f.capture !== 'none') throw new Error(`--capture is iptables or none, not ${f.capture}`);
      const { readFile } = await import('node:fs/promises');
      const { NodeProxy, DEFAULT_PORTS } = await import('../node-proxy/index.ts');
      if (f.loadBalancing !== 'round-robin' && f.loadBalancing !== 'least-connections') throw new Error(`--load-balancing is round-robin or least-connections, not ${f.loadBalancing}`);
      const rootCertPem = await readFile(f.rootCert, 'utf8');
      const certTtl = f.certTtl === undefined ? undefined : Number(f.certTtl);
      if (certTtl !== undefined && !(Number.isInteger(certTtl) && certTtl > 0)) throw new Error(`--cert-ttl is a positive number of seconds, not ${f.certTtl}`);
      const proxy = new NodeProxy({
        control: f.control,
        rootCertPem,
        token: f.token,
        nodeName: f.nodeName,
        listen: f.listen,
        trustDomain: f.trustDomain,
        capture: f.capture,
        dnsCapture: f.dnsCapture,
        ...(f.socket ? { socket: f.socket } : {}),
        ports: { ...DEFAULT_PORTS, admin: port(f.adminPort), stats: port(f.statsPort), ready: port(f.readyPort), socks: port(f.socksPort), dns: port(f.dnsPort) },
        ...(f.accessLog ? { accessLog: f.accessLog } : {}),
        drainMs: Number(f.drainMs) || 5000,
        ...(certTtl ? { certTtlSeconds: certTtl } : {}),
        loadBalancing: f.loadBalancing,
        log: stderrLog(f.verbose),
      });
      await proxy.start();
      (await import('../capture/memory-release.ts')).scheduleMemoryRelease({ pageOut: f.pageOut });
      const p = proxy.ports;
      const h = f.listen;
      process.stdout.write(
        [
          `weft node ${f.nodeName} is running (control plane ${f.control}, capture ${f.capture}${f.capture === 'iptables' ? `, DNS capture ${f.dnsCapture ? 'on' : 'off'}` : ''}, load balancing ${f.loadBalancing})`,
          `  HBONE             ${h}:${p.hbone}`,
          `  SOCKS5/CONNECT    ${h}:${p.socks}`,
          `  DNS               ${h}:${p.dns}`,
          `  admin             http://${h}:${p.admin}/config_dump`,
          `  stats             http://${h}:${p.stats}/stats/prometheus`,
          `  ready             http://${h}:${p.ready}/healthz/ready`,
          ...(f.capture === 'iptables' || f.socket ? [`  CNI socket        ${f.socket ?? '/var/run/weft/node.sock'}`] : []),
          '',
        ].join('\n'),
      );
      drainOnSignals(() => proxy.drain());
    });
}
