/**
 * `weft gateway --control HOST:PORT --root-cert FILE --token TOKEN [--label k=v]... [--listen HOST]`
 * (design.md 1): run an ingress gateway. It serves the Istio Gateways whose selector matches its
 * labels and the Gateway API Gateways of Weft's classes (core/route/README.md, "Who receives
 * what"). Its namespace and name come from the join token (`weft token create --gateway NS/NAME`)
 * unless given; its identity is that service account's.
 */
import type { Command } from 'commander';
import { drainOnSignals, port, proxySideOptions, stderrLog } from './flags.ts';
import { tracingConfig, tracingOptions, type TracingFlags } from './tracing-flags.ts';

interface GatewayFlags extends TracingFlags {
  control: string;
  rootCert: string;
  token: string;
  label: string[];
  namespace?: string;
  name?: string;
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

function collectLabel(value: string, previous: string[]): string[] {
  if (!/^[^=]+=.*$/.test(value)) throw new Error(`--label takes key=value, not ${value}`);
  return [...previous, value];
}

/** The gateway named in a join token's subject (`gateway/NS/NAME`), read without verifying: the CA verifies. */
export function gatewayFromToken(token: string): { namespace: string; name: string } | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const sub = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown }).sub;
    const parts = typeof sub === 'string' ? sub.split('/') : [];
    return parts.length === 3 && parts[0] === 'gateway' ? { namespace: parts[1]!, name: parts[2]! } : undefined;
  } catch {
    return undefined;
  }
}

export function register(program: Command): void {
  const gateway = program
    .command('gateway')
    .description('run an ingress gateway: Gateway API and Istio Gateway/VirtualService routing into the mesh')
    .requiredOption('--control <host:port>', "the control plane's TLS xDS + CA port (15012)")
    .requiredOption('--root-cert <file>', 'the mesh root certificate (PEM)')
    .requiredOption('--token <token>', 'join token (weft token create --gateway NS/NAME)')
    .option('--label <k=v>', 'a label of this gateway (Istio Gateways select gateways by label); repeatable', collectLabel, [])
    .option('--namespace <ns>', "this gateway's namespace (default: from the token)")
    .option('--name <name>', "this gateway's name (default: from the token)")
    .option('--service-account <sa>', 'the service account whose identity it holds (default: its name)')
    .option('--listen <host>', 'address of its listeners (Gateway listeners written 0.0.0.0, admin, stats, ready)', '127.0.0.1')
    .option('-v, --verbose', 'debug logs on stderr');
  tracingOptions(proxySideOptions(gateway, { accessLog: 'JSON access log, one line per request (`-`: stdout)', drain: 'grace for requests in flight on SIGTERM' }))
    .action(async (f: GatewayFlags) => {
      const fromToken = gatewayFromToken(f.token);
      const namespace = f.namespace ?? fromToken?.namespace;
      const name = f.name ?? fromToken?.name;
      if (!namespace || !name) throw new Error('the token names no gateway (weft token create --gateway NS/NAME); give --namespace and --name');
      const labels: Record<string, string> = {};
      for (const l of f.label) {
        const i = l.indexOf('=');
        labels[l.slice(0, i)] = l.slice(i + 1);
      }
      const { readFile } = await import('node:fs/promises');
      const { L7Proxy } = await import('../l7-proxy/l7-proxy.ts');
      const proxy = new L7Proxy({
        role: 'gateway',
        control: f.control,
        rootCertPem: await readFile(f.rootCert, 'utf8'),
        token: f.token,
        trustDomain: f.trustDomain,
        namespace,
        name,
        ...(f.serviceAccount ? { serviceAccount: f.serviceAccount } : {}),
        labels,
        listen: f.listen,
        ports: { admin: port(f.adminPort), stats: port(f.statsPort), ready: port(f.readyPort) },
        ...(f.accessLog ? { accessLog: f.accessLog } : {}),
        tracing: tracingConfig(f),
        log: stderrLog(f.verbose),
      });
      await proxy.start();
      const p = proxy.ports;
      const h = f.listen;
      process.stdout.write(
        [
          `weft gateway ${namespace}/${name} is running (control plane ${f.control}, identity ${proxy.identity})`,
          `  labels            ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)'}`,
          `  admin             http://${h}:${p.admin}/config_dump`,
          `  stats             http://${h}:${p.stats}/stats/prometheus`,
          `  ready             http://${h}:${p.ready}/healthz/ready`,
          '  listeners come from the Gateways it serves (see /config_dump)',
          '',
        ].join('\n'),
      );
      drainOnSignals(() => proxy.drain(Number(f.drainMs) || 5000));
    });
}
