/**
 * `weft edge snapshot --gateway NS/NAME [--config DIR] [--mesh FILE] [--label k=v]... [--out FILE]`:
 * the REST-JSON xDS a gateway would poll, frozen into one EdgeSnapshot JSON (hosts/edge/
 * config-contract.ts) for edge deploys with no control plane. Validation issues are printed as
 * `weft analyze` prints them (stderr); errors exit non-zero and write nothing.
 */
import type { Command } from 'commander';

interface SnapshotFlags {
  gateway: string;
  config?: string;
  mesh?: string;
  label: string[];
  out?: string;
}

function collectLabel(value: string, previous: string[]): string[] {
  if (!/^[^=]+=.*$/.test(value)) throw new Error(`--label takes key=value, not ${value}`);
  return [...previous, value];
}

export function register(program: Command): void {
  const edge = program.command('edge').description('the edge host (Deno, workerd, Node): config for offline deploys');
  edge
    .command('snapshot')
    .description("write the config one gateway gets over REST-JSON xDS as an edge snapshot (JSON), from a config directory or the embedded sample")
    .requiredOption('--gateway <ns/name>', 'the gateway, as its join token names it (weft token create --gateway NS/NAME)')
    .option('--config <dir>', 'directory of YAML (default: the embedded sample)')
    .option('--mesh <file>', 'a MeshConfig file, as given to weft control --mesh')
    .option('--label <k=v>', "a label of the gateway (Istio Gateways select by label; default: the Gateway API gateway-name label of --gateway); repeatable", collectLabel, [])
    .option('--out <file>', 'where to write the snapshot (default: stdout)')
    .action(async (f: SnapshotFlags) => {
      const [namespace, name, extra] = f.gateway.split('/');
      if (!namespace || !name || extra !== undefined) throw new Error(`--gateway is NAMESPACE/NAME, not ${f.gateway}`);
      const { collectFiles, issueLine } = await import('../config/analyze-run.ts');
      const { loadMeshFile } = await import('../config/mesh-file.ts');
      const { SAMPLE_FILES } = await import('../../../core/config/sample/index.ts');
      const { buildEdgeSnapshot } = await import('../xds/edge-snapshot.ts');
      const { writeFile } = await import('node:fs/promises');
      const read = f.config ? await collectFiles([f.config]) : { files: [...SAMPLE_FILES], unreadable: [] };
      const meshFile = f.mesh ? await loadMeshFile(f.mesh) : undefined;
      const labels = Object.fromEntries(f.label.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const result = buildEdgeSnapshot({ files: read.files, unreadable: read.unreadable, ...(meshFile ? { meshFile } : {}), gateway: { namespace, name }, labels });
      for (const i of result.issues) process.stderr.write(`${issueLine(i)}\n`);
      if (!result.ok) {
        process.stderr.write(`Error: ${result.message}\n`);
        process.exitCode = 1;
        return;
      }
      const text = `${JSON.stringify(result.snapshot, null, 2)}\n`;
      if (f.out) {
        await writeFile(f.out, text);
        const counts = Object.entries(result.snapshot.responses).map(([t, r]) => `${r!.resources.length} ${t}`).join(', ');
        process.stderr.write(`wrote ${f.out}: gateway ${namespace}/${name}: ${counts}\n`);
      } else {
        process.stdout.write(text);
      }
    });
}
