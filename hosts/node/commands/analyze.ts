/**
 * `weft analyze PATH...` (design.md 1): validate files and directories as `weft control` would, print
 * every error and warning in istioctl analyze's manner, exit non-zero when there are errors.
 */
import type { Command } from 'commander';

interface AnalyzeOptions {
  mesh?: string;
  output?: string;
}

export function register(program: Command): void {
  program
    .command('analyze')
    .description('validate config files or directories (exits non-zero on errors, as istioctl analyze)')
    .argument('<paths...>', 'YAML files or directories of YAML')
    .option('--mesh <file>', 'a MeshConfig file, as given to weft control --mesh')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (paths: string[], opts: AnalyzeOptions) => {
      const { runAnalyze } = await import('../config/analyze-run.ts');
      process.exitCode = await runAnalyze(paths, opts, (line) => process.stdout.write(`${line}\n`));
    });
}
