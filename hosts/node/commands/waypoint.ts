/**
 * `weft waypoint --control HOST:PORT --root-cert FILE --token TOKEN --namespace NS [--name NAME]
 * [--listen HOST]` runs a waypoint (the L7 proxy in the waypoint role: HBONE in on `<listen>:15008`,
 * hosts/node/l7-proxy/README.md); `weft waypoint apply|list|delete -n NS [--enroll-namespace]
 * [--address IP] [--config DIR]` (design.md 1) manage them as istioctl's: outside Kubernetes the
 * config directory stands for the API server, so apply writes the waypoint's Gateway (class
 * istio-waypoint) into it, with --address its WorkloadEntry and Service (where node proxies reach it),
 * and --enroll-namespace labels the namespace `istio.io/use-waypoint`; the control plane watching the
 * directory picks them up.
 */
import type { Command } from 'commander';
import { port, proxySideOptions } from './flags.ts';
import { tracingOptions } from './tracing-flags.ts';
import type { L7RunFlags } from './l7-run.ts';

const FOR_VALUES = ['service', 'workload', 'all', 'none'] as const;

/** The run flags: optional on the parent command, since apply/list/delete need none of them. */
interface RunFlags extends Omit<L7RunFlags, 'control' | 'rootCert' | 'token'> {
  control?: string;
  rootCert?: string;
  token?: string;
  namespace?: string;
  name?: string;
  hbonePort: string;
}

const RUN_HELP = `
Running a waypoint (no subcommand):
  weft token create --waypoint NS/NAME --state DIR       # on the control plane's host
  weft waypoint --control HOST:15012 --root-cert root-cert.pem --token TOKEN --namespace NS --name NAME --listen IP

  It holds the identity spiffe://<td>/ns/NS/sa/NAME, takes HBONE on IP:15008 from node proxies, and
  serves the services (and workloads) whose istio.io/use-waypoint label (or their namespace's) names
  it: mesh VirtualServices, GAMMA HTTPRoutes, DestinationRules, then HBONE on to the destination.

Where node proxies find it: the waypoint's Gateway (class istio-waypoint) plus a Service NS/NAME
selecting a workload at IP with service account NAME. Outside Kubernetes
  weft waypoint apply -n NS --name NAME --address IP --config DIR
writes all three (the Gateway, a WorkloadEntry at IP and the Service); in Kubernetes the waypoint's
Deployment and Service play that part. Then label services or namespaces istio.io/use-waypoint=NAME
(apply --enroll-namespace does the namespace).
`;

async function run(f: RunFlags): Promise<void> {
  if (!f.control || !f.rootCert || !f.token) throw new Error('weft waypoint needs --control, --root-cert and --token to run (or a subcommand: apply, list, delete)');
  // loaded here, not at start: the token parser pulls the CA's modules, which `weft node` never needs
  const { l7NameFromToken, runL7 } = await import('./l7-run.ts');
  const fromToken = l7NameFromToken(f.token, 'waypoint');
  const namespace = f.namespace ?? fromToken?.namespace;
  const name = f.name ?? fromToken?.name ?? 'waypoint';
  if (!namespace) throw new Error('--namespace is required (the token names no waypoint: weft token create --waypoint NS/NAME)');
  const h = f.listen;
  await runL7({ ...f, control: f.control, rootCert: f.rootCert, token: f.token }, { role: 'waypoint', namespace, name, labels: { 'gateway.networking.k8s.io/gateway-name': name }, hbonePort: port(f.hbonePort) }, (p) => ({
    first: [`  HBONE             ${h}:${p.hbone}`],
    last: [`  node proxies reach it through Service ${namespace}/${name} (weft waypoint apply --address ${h})`],
  }));
}

export function register(program: Command): void {
  // `weft waypoint` has options of its own and subcommands with options of the same names (-n, --name):
  // commander gives an option after a subcommand's name to that subcommand only when every command
  // above it has positional options (the program's own are only -V and -h).
  program.enablePositionalOptions();
  const waypoint = program
    .command('waypoint')
    .description('run a waypoint (L7 proxy for a namespace or its services), or manage them: apply, list, delete')
    // the run flags belong to `weft waypoint` itself; a subcommand's own -n/--name come after its name
    .enablePositionalOptions()
    .option('--control <host:port>', "the control plane's TLS xDS + CA port (15012)")
    .option('--root-cert <file>', 'the mesh root certificate (PEM)')
    .option('--token <token>', 'join token (weft token create --waypoint NS/NAME)')
    .option('--namespace <ns>', "the waypoint's namespace (default: from the token)")
    .option('--name <name>', "the waypoint's name: its Gateway and service account (default: from the token, else waypoint)")
    .option('--service-account <sa>', 'the service account whose identity it holds (default: its name)')
    .option('--listen <host>', 'address of its HBONE (15008), admin, stats and ready listeners', '127.0.0.1')
    .option('--hbone-port <port>', 'HBONE (node proxies dial 15008; change it only in tests)', '15008')
    .option('-v, --verbose', 'debug logs on stderr');
  tracingOptions(proxySideOptions(waypoint, { accessLog: 'JSON access log, one line per request (`-`: stdout)', drain: 'grace for requests in flight on SIGTERM' }))
    .addHelpText('after', RUN_HELP)
    .action((f: RunFlags) => run(f));

  waypoint
    .command('apply')
    .description('write a waypoint Gateway into the config directory')
    .requiredOption('-n, --namespace <ns>', 'namespace of the waypoint')
    .option('--name <name>', 'name of the waypoint', 'waypoint')
    .option('--for <what>', `traffic it handles: ${FOR_VALUES.join(', ')}`, 'service')
    .option('--enroll-namespace', 'label the namespace istio.io/use-waypoint=<name>')
    .option('--address <ip>', "where the waypoint runs (its --listen): also write its WorkloadEntry and Service, so node proxies reach it on <ip>:15008")
    .option('--overwrite', 'replace an existing waypoint of another --for')
    .option('--config <dir>', 'the config directory the control plane reads', '.')
    .action(async (f: { namespace: string; name: string; for: string; enrollNamespace?: boolean; overwrite?: boolean; address?: string; config: string }) => {
      if (!(FOR_VALUES as readonly string[]).includes(f.for)) throw new Error(`--for is one of ${FOR_VALUES.join(', ')}, not ${f.for}`);
      const { applyWaypoint } = await import('../waypoint-cli/waypoint-commands.ts');
      const lines = await applyWaypoint({ dir: f.config, namespace: f.namespace, name: f.name, forWhat: f.for as (typeof FOR_VALUES)[number], enrollNamespace: !!f.enrollNamespace, overwrite: !!f.overwrite, ...(f.address ? { address: f.address } : {}) });
      process.stdout.write(lines.join('\n') + '\n');
    });

  waypoint
    .command('list')
    .description('list the waypoints in the config directory')
    .option('-n, --namespace <ns>', 'only this namespace')
    .option('-A, --all-namespaces', 'every namespace (the default)')
    .option('--config <dir>', 'the config directory the control plane reads', '.')
    .action(async (f: { namespace?: string; config: string }) => {
      const { listWaypoints, formatWaypointTable } = await import('../waypoint-cli/waypoint-commands.ts');
      const { rows, broken } = await listWaypoints(f.config, f.namespace);
      process.stdout.write(formatWaypointTable(rows) + '\n');
      for (const b of broken) process.stderr.write(`warning: ${b} does not parse; not read\n`);
    });

  waypoint
    .command('delete')
    .description('remove waypoints from the config directory')
    .argument('[names...]', 'waypoint names (default: waypoint)')
    .requiredOption('-n, --namespace <ns>', 'namespace of the waypoints')
    .option('--all', 'every waypoint of the namespace')
    .option('--config <dir>', 'the config directory the control plane reads', '.')
    .action(async (names: string[], f: { namespace: string; all?: boolean; config: string }) => {
      const { deleteWaypoints } = await import('../waypoint-cli/waypoint-commands.ts');
      const lines = await deleteWaypoints({ dir: f.config, namespace: f.namespace, names: names.length ? names : f.all ? [] : ['waypoint'], all: !!f.all });
      process.stdout.write(lines.join('\n') + '\n');
    });
}
