/**
 * The `weft` command line (design.md section 1: the names are a contract). Each subcommand lives in
 * hosts/node/commands/<name>.ts and registers itself here; modules load lazily so a role pays only for
 * what it uses (node-memory.md).
 */
import { Command } from 'commander';
import { WEFT_VERSION } from './version.ts';
import { registerCommands } from './commands/index.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('weft')
    .description('Weft: a lightweight, sidecar-less service mesh (control plane, node proxy, waypoint, gateway)')
    .version(WEFT_VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)');
  registerCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
