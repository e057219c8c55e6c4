/**
 * `weft install --profile ambient|minimal|empty [--set k=v]... [--apply] [--dry-run]`: render Weft's
 * Kubernetes manifests (hosts/node/install/) as one multi-document YAML on stdout, or pipe them through
 * `kubectl apply -f -` with --apply (--dry-run then asks kubectl for a client-side dry run).
 * An unknown --set key is an error that lists the known ones.
 */
import type { Command } from 'commander';
// small and I/O-free (values.ts imports only the version): loaded at start so --help can list the keys
import { describeKeys } from '../install/values.ts';

interface InstallFlags {
  profile: string;
  set: string[];
  apply?: boolean;
  dryRun?: boolean;
}

export function register(program: Command): void {
  program
    .command('install')
    .description('render the Kubernetes manifests (CRDs, control plane, node proxy DaemonSet, waypoint) for a profile')
    .option('--profile <profile>', 'ambient (CRDs, control plane, node proxies), minimal (CRDs, control plane) or empty (only what --set turns on)', 'ambient')
    .option('--set <key=value>', 'a value (repeatable; `weft install --help` lists them)', (x: string, acc: string[]) => [...acc, x], [] as string[])
    .option('--apply', 'apply them with `kubectl apply -f -` (kubectl on PATH, a cluster configured) instead of printing')
    .option('--dry-run', 'with --apply: `kubectl apply --dry-run=client`; without it, printing is already a dry run')
    .addHelpText('after', () => `\nValues (--set key=value):\n${describeKeys()}\n`)
    .action(async (f: InstallFlags) => {
      const { renderInstall, toYaml, InstallValueError } = await import('../install/index.ts');
      const { WEFT_VERSION } = await import('../version.ts');
      let yaml: string;
      try {
        const { objects } = renderInstall(f.profile, f.set);
        yaml = toYaml(objects, `weft install --profile ${f.profile}${f.set.map((s) => ` --set ${s}`).join('')} (weft ${WEFT_VERSION})`);
      } catch (err) {
        if (err instanceof InstallValueError) {
          process.stderr.write(`weft install: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
      if (!f.apply) {
        // `weft install | head` closes the pipe early: that is not an error
        process.stdout.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? process.exit(0) : process.exit(1)));
        return void process.stdout.write(yaml);
      }
      process.exitCode = await kubectlApply(yaml, !!f.dryRun);
    });
}

async function kubectlApply(yaml: string, dryRun: boolean): Promise<number> {
  const { spawn } = await import('node:child_process');
  const args = ['apply', ...(dryRun ? ['--dry-run=client'] : []), '-f', '-'];
  return new Promise((resolve) => {
    const child = spawn('kubectl', args, { stdio: ['pipe', 'inherit', 'inherit'] });
    child.once('error', (err) => {
      process.stderr.write(`weft install --apply: cannot run kubectl (${err.message}); run without --apply and pipe the output to kubectl yourself\n`);
      resolve(127);
    });
    child.once('close', (code) => resolve(code ?? 1));
    child.stdin.on('error', () => {}); // kubectl exiting early; its own message says why
    child.stdin.end(yaml);
  });
}
