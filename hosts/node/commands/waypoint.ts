/**
 * `weft waypoint apply|list|delete -n NS [--enroll-namespace] [--config DIR]` (design.md 1), as
 * istioctl's: outside Kubernetes the config directory stands for the API server, so apply writes the
 * waypoint's Gateway (class istio-waypoint) into it and --enroll-namespace labels the namespace
 * `istio.io/use-waypoint`; the control plane watching the directory picks both up.
 */
import type { Command } from 'commander';

const FOR_VALUES = ['service', 'workload', 'all', 'none'] as const;

export function register(program: Command): void {
  const waypoint = program.command('waypoint').description('manage waypoints (L7 proxies for a namespace or its services)');

  waypoint
    .command('apply')
    .description('write a waypoint Gateway into the config directory')
    .requiredOption('-n, --namespace <ns>', 'namespace of the waypoint')
    .option('--name <name>', 'name of the waypoint', 'waypoint')
    .option('--for <what>', `traffic it handles: ${FOR_VALUES.join(', ')}`, 'service')
    .option('--enroll-namespace', 'label the namespace istio.io/use-waypoint=<name>')
    .option('--overwrite', 'replace an existing waypoint of another --for')
    .option('--config <dir>', 'the config directory the control plane reads', '.')
    .action(async (f: { namespace: string; name: string; for: string; enrollNamespace?: boolean; overwrite?: boolean; config: string }) => {
      if (!(FOR_VALUES as readonly string[]).includes(f.for)) throw new Error(`--for is one of ${FOR_VALUES.join(', ')}, not ${f.for}`);
      const { applyWaypoint } = await import('../waypoint-cli/waypoint-commands.ts');
      const lines = await applyWaypoint({ dir: f.config, namespace: f.namespace, name: f.name, forWhat: f.for as (typeof FOR_VALUES)[number], enrollNamespace: !!f.enrollNamespace, overwrite: !!f.overwrite });
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
