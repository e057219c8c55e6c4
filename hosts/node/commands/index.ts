/**
 * Registers every subcommand. Each command file exports `register(program)`; its heavy modules are
 * imported inside the action so `weft analyze` never loads gRPC and `weft node` never loads the CA.
 */
import type { Command } from 'commander';
import { register as control } from './control.ts';
import { register as ca } from './ca.ts';
import { register as token } from './token.ts';
import { register as analyze } from './analyze.ts';
import { register as cni } from './cni.ts';
import { register as node } from './node.ts';
import { register as proxyConfig } from './proxy-config.ts';
import { register as version } from './version.ts';
import { register as waypoint } from './waypoint.ts';
import { register as gateway } from './gateway.ts';
import { register as plugin } from './plugin.ts';
import { register as up } from './up.ts';
import { register as install } from './install.ts';
import { register as edge } from './edge.ts';

export function registerCommands(program: Command): void {
  control(program);
  ca(program);
  token(program);
  analyze(program);
  cni(program);
  node(program);
  proxyConfig(program);
  gateway(program);
  waypoint(program);
  plugin(program);
  up(program);
  install(program);
  edge(program);
  version(program);
}
