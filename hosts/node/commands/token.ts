/**
 * `weft token create`: print a join token for one node proxy, gateway or waypoint, signed with the
 * key in the control plane's state directory (design.md 1, 5). Fails when that directory has no
 * key: tokens from a key the control plane does not hold would never verify.
 */
import type { Command } from 'commander';
import type { Caller } from '../../../core/identity/index.ts';

interface CreateOptions {
  node?: string;
  gateway?: string;
  waypoint?: string;
  state?: string;
  ttl?: string;
}

export function register(program: Command): void {
  const token = program.command('token').description('join tokens for node proxies, gateways and waypoints');
  token
    .command('create')
    .description('print a join token (send it as `authorization: Bearer <token>`)')
    .option('--node <name>', 'a node proxy, by node name')
    .option('--gateway <ns/name>', 'a gateway, by its Gateway namespace/name')
    .option('--waypoint <ns/name>', 'a waypoint, by its Gateway namespace/name')
    .option('--state <dir>', "the control plane's state directory (default /var/lib/weft as root, else ~/.local/state/weft)")
    .option('--ttl <duration>', 'lifetime, e.g. 24h or 30d (default: no expiry)')
    .action(async (opts: CreateOptions) => {
      const { TokenAuthority, parseDuration } = await import('../ca/tokens.ts');
      const { defaultStateDir } = await import('../ca/state-dir.ts');
      const caller = callerFrom(opts);
      const ttlSeconds = opts.ttl ? parseDuration(opts.ttl) : undefined;
      const tokens = await TokenAuthority.load(opts.state ?? defaultStateDir());
      console.log(tokens.create(caller, ttlSeconds ? { ttlSeconds } : {}));
    });
}

function callerFrom(o: CreateOptions): Caller {
  const given = (['node', 'gateway', 'waypoint'] as const).filter((k) => o[k] !== undefined);
  if (given.length !== 1) throw new Error('give exactly one of --node NAME, --gateway NS/NAME, --waypoint NS/NAME');
  const kind = given[0]!;
  const value = o[kind]!;
  if (kind === 'node') return { kind, node: value };
  const parts = value.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`--${kind} must be NAMESPACE/NAME, not ${JSON.stringify(value)}`);
  return { kind, namespace: parts[0], name: parts[1] };
}
