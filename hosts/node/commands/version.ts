/**
 * `weft version [--control-http URL] [--short]`: the client's version and, when the control plane
 * answers (a short time limit; its absence is not an error), the control plane's and the proxies'.
 */
import type { Command } from 'commander';
import { WEFT_VERSION } from '../version.ts';

export function register(program: Command): void {
  program
    .command('version')
    .description('print the client, control plane and data plane versions')
    .option('--control-http <url>', "the control plane's HTTP API", 'http://127.0.0.1:15014')
    .option('--short', 'print only the client version')
    .option('--remote <bool>', 'ask the control plane (false: client only)', 'true')
    .option('--timeout <ms>', 'how long to wait for the control plane', '1500')
    .action(async (flags: { controlHttp: string; short?: boolean; remote: string; timeout: string }) => {
      if (flags.short) return void process.stdout.write(`${WEFT_VERSION}\n`);
      const { collectVersions, formatVersionReport } = await import('../proxy-config/versions.ts');
      if (flags.remote === 'false') return void process.stdout.write(formatVersionReport({ client: WEFT_VERSION }));
      const report = await collectVersions(WEFT_VERSION, flags.controlHttp, Number(flags.timeout) || 1500);
      process.stdout.write(formatVersionReport(report));
      if (report.problem) process.stderr.write(`no control plane answered at ${flags.controlHttp} (${report.problem})\n`);
    });
}
