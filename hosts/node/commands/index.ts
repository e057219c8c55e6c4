/**
 * Registers every subcommand. Each command file exports `register(program)`; its heavy modules are
 * imported inside the action so `weft analyze` never loads gRPC and `weft node` never loads the CA.
 */
import type { Command } from 'commander';

export function registerCommands(program: Command): void {
  void program;
}
