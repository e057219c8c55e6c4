/**
 * `weft gateway --control HOST:PORT --root-cert FILE --token TOKEN [--label k=v]... [--listen HOST]`
 * (design.md 1): run an ingress gateway. It serves the Istio Gateways whose selector matches its
 * labels and the Gateway API Gateways of Weft's classes (core/route/README.md, "Who receives
 * what"). Its namespace and name come from the join token (`weft token create --gateway NS/NAME`)
 * unless given; its identity is that service account's.
 */
import type { Command } from 'commander';
import { proxySideOptions } from './flags.ts';
import { tracingOptions } from './tracing-flags.ts';
import type { L7RunFlags } from './l7-run.ts';

interface GatewayFlags extends L7RunFlags {
  label: string[];
  namespace?: string;
  name?: string;
}

function collectLabel(value: string, previous: string[]): string[] {
  if (!/^[^=]+=.*$/.test(value)) throw new Error(`--label takes key=value, not ${value}`);
  return [...previous, value];
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
      // loaded here, not at start: the token parser pulls the CA's modules, which `weft node` never needs
      const { l7NameFromToken, runL7 } = await import('./l7-run.ts');
      const fromToken = l7NameFromToken(f.token, 'gateway');
      const namespace = f.namespace ?? fromToken?.namespace;
      const name = f.name ?? fromToken?.name;
      if (!namespace || !name) throw new Error('the token names no gateway (weft token create --gateway NS/NAME); give --namespace and --name');
      const labels: Record<string, string> = {};
      for (const l of f.label) {
        const i = l.indexOf('=');
        labels[l.slice(0, i)] = l.slice(i + 1);
      }
      await runL7(f, { role: 'gateway', namespace, name, labels }, () => ({
        first: [`  labels            ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ') || '(none)'}`],
        last: ['  listeners come from the Gateways it serves (see /config_dump)'],
      }));
    });
}
