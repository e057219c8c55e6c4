/**
 * `weft edge snapshot --gateway NS/NAME [--config DIR] [--mesh FILE] [--label k=v]... [--out FILE]`:
 * the REST-JSON xDS a gateway would poll, frozen into one EdgeSnapshot JSON (hosts/edge/
 * config-contract.ts) for edge deploys with no control plane. Validation issues are printed as
 * `weft analyze` prints them (stderr); errors exit non-zero and write nothing.
 *
 * `weft edge build` (registerBuild below; hosts/node/edge-build/) turns a snapshot, or a control
 * plane to poll, into a directory to deploy on workerd, Deno or Node.
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
  registerBuild(edge);
}

interface BuildFlags {
  target: string;
  out: string;
  snapshot?: string;
  control?: string;
  token?: string;
  gateway?: string;
  config?: string;
  mesh?: string;
  label: string[];
  port: string;
  pollMs?: string;
  pluginCache?: string;
}

/**
 * `weft edge build --target workerd|deno|node (--snapshot FILE | --control URL --token TOKEN |
 * --gateway NS/NAME [--config DIR]) --out DIR`: a ready-to-deploy directory (hosts/node/edge-build/).
 */
function registerBuild(edge: Command): void {
  edge
    .command('build')
    .description('write a ready-to-deploy edge host directory for workerd, Deno or Node: the bundled app, its config (a snapshot, or polling weft control), the prepared plugins the config names, the runtime config and a README')
    .requiredOption('--target <runtime>', 'workerd | deno | node')
    .requiredOption('--out <dir>', 'the directory to write (new or empty)')
    .option('--snapshot <file>', 'bundle this edge snapshot (weft edge snapshot --out FILE)')
    .option('--control <url>', "poll this weft control's HTTP address (its 15014) at run time; the current config is read now for its plugins")
    .option('--token <token>', 'the join token for --control (weft token create --gateway NS/NAME; default: $WEFT_TOKEN)')
    .option('--gateway <ns/name>', 'make the snapshot now for this gateway (as weft edge snapshot)')
    .option('--config <dir>', 'with --gateway: directory of YAML (default: the embedded sample)')
    .option('--mesh <file>', 'with --gateway: a MeshConfig file')
    .option('--label <k=v>', 'a label of the gateway (Istio Gateways select by label); repeatable', collectLabel, [])
    .option('--port <port>', 'the port the deploy listens on by default', '8080')
    .option('--poll-ms <ms>', 'with --control: how often the deploy polls')
    .option('--plugin-cache <dir>', 'the writable plugin cache (default: the one weft gateway uses)')
    .action(async (f: BuildFlags) => {
      const { EDGE_TARGETS } = await import('../edge-build/targets.ts');
      const target = f.target as (typeof EDGE_TARGETS)[number];
      if (!EDGE_TARGETS.includes(target)) throw new Error(`--target is one of ${EDGE_TARGETS.join(', ')}, not ${f.target}`);
      const token = f.token ?? process.env.WEFT_TOKEN;
      const modes = [f.snapshot !== undefined, f.control !== undefined, f.gateway !== undefined].filter(Boolean).length;
      if (modes !== 1) throw new Error('give one of --snapshot FILE, --control URL --token TOKEN, or --gateway NS/NAME [--config DIR]');
      const port = Number(f.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port takes a port number, not ${f.port}`);
      const labels = Object.fromEntries(f.label.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      const { readFile } = await import('node:fs/promises');
      const { join } = await import('node:path');
      const { checkSnapshot } = await import('../edge-build/config-mode.ts');
      const { buildEdgeDeploy } = await import('../edge-build/build.ts');
      const { defaultBuiltinDir } = await import('../plugins/loader.ts');
      type Mode = Parameters<typeof buildEdgeDeploy>[0]['mode'];
      let mode: Mode;
      if (f.snapshot !== undefined) {
        mode = { kind: 'snapshot', snapshot: checkSnapshot(JSON.parse(await readFile(f.snapshot, 'utf8')), f.snapshot) };
      } else if (f.control !== undefined) {
        if (!token) throw new Error('--control needs --token TOKEN (or WEFT_TOKEN): weft token create --gateway NS/NAME');
        mode = { kind: 'control', url: f.control.replace(/\/+$/, ''), token, labels, ...(f.pollMs ? { pollMs: Number(f.pollMs) } : {}) };
      } else {
        const [namespace, name, extra] = f.gateway!.split('/');
        if (!namespace || !name || extra !== undefined) throw new Error(`--gateway is NAMESPACE/NAME, not ${f.gateway}`);
        const { snapshotFromConfig } = await import('../edge-build/snapshot-from-config.ts');
        const snapshot = await snapshotFromConfig({ gateway: { namespace, name }, ...(f.config ? { config: f.config } : {}), ...(f.mesh ? { mesh: f.mesh } : {}), labels, stderr: (l) => process.stderr.write(`${l}\n`) });
        mode = { kind: 'snapshot', snapshot };
      }
      const builtinDir = defaultBuiltinDir();
      const r = await buildEdgeDeploy({
        target,
        mode,
        out: f.out,
        port,
        plugins: { builtinDir, preparedDirs: [join(builtinDir, 'prepared')], ...(f.pluginCache ? { cacheDir: f.pluginCache } : {}) },
        log: (l) => process.stderr.write(`${l}\n`),
      });
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stderr.write(`wrote ${r.out} (${target}): ${r.files.join(', ')}; see its README.md\n`);
    });
}
