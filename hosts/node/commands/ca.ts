/**
 * `weft ca root` and `weft ca intermediate`: make `cacerts` directories as Istio's tools/certs
 * Makefile does, so several clusters can share one root (design.md 1). The CA modules load inside
 * the actions so other commands never pay for them.
 */
import type { Command } from 'commander';

const positiveInt = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--days must be a positive whole number, not ${JSON.stringify(v)}`);
  return n;
};

export function register(program: Command): void {
  const ca = program.command('ca').description('make CA files (root, per-cluster intermediates) for `weft control --cacerts`');

  ca.command('root')
    .description('make a root CA: root-cert.pem and root-key.pem in --out')
    .requiredOption('--out <dir>', 'directory to write root-cert.pem and root-key.pem to')
    .option('--org <name>', 'organisation (O) of the root', 'Weft')
    .option('--cn <name>', 'common name (CN) of the root', 'Weft Root CA')
    .option('--days <n>', 'validity in days', positiveInt, 3650)
    .action(async (opts: { out: string; org: string; cn: string; days: number }) => {
      const { writeRootCaDir } = await import('../ca/cacerts-dir.ts');
      const { certPath, keyPath } = await writeRootCaDir(opts.out, { org: opts.org, cn: opts.cn, days: opts.days });
      console.log(`wrote ${certPath}\nwrote ${keyPath} (keep it offline; it signs every cluster's intermediate)`);
    });

  ca.command('intermediate')
    .description("make a cluster's intermediate CA, signed by a root: ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem")
    .requiredOption('--root <dir>', 'directory holding root-cert.pem and root-key.pem (from `weft ca root`)')
    .requiredOption('--name <name>', 'cluster name (written as the locality, L=, as Istio does)')
    .requiredOption('--out <dir>', 'directory to write the cacerts files to (give it to `weft control --cacerts`)')
    .option('--org <name>', 'organisation (O)', 'Weft')
    .option('--cn <name>', 'common name (CN)', 'Weft Intermediate CA')
    .option('--days <n>', 'validity in days (capped by the root)', positiveInt, 730)
    .action(async (opts: { root: string; name: string; out: string; org: string; cn: string; days: number }) => {
      const { writeIntermediateCaDir } = await import('../ca/cacerts-dir.ts');
      const files = await writeIntermediateCaDir({ rootDir: opts.root, name: opts.name, out: opts.out, org: opts.org, cn: opts.cn, days: opts.days });
      console.log(files.map((f) => `wrote ${f}`).join('\n'));
    });
}
