// Runs a benchmark script: bundles test/bench/<name>/main.ts with esbuild (benchmarks are scripts,
// not tests) and runs it with node, passing the remaining arguments through. SIGINT/SIGTERM/SIGHUP
// are passed to the bench, which cleans up (the L4 bench: namespaces, iptables, processes) and exits.
// Usage: node test/bench/run.mjs control [--sizes 100,1000,10000] [--clients 10,100]
//        node test/bench/run.mjs plugins [--repeats 3] [--seconds 5] [--calls 100000] (WasmPlugins: gateway + in process)
//        node test/bench/run.mjs edge [--repeats 3] [--seconds 5] [--conns 1,64] (edge host on Node, Deno, workerd beside the Node gateway)
// The environment passes through: WEFT_DIST=DIR makes the benches that start weft run DIR/weft.mjs
// (a build of one's own: WEFT_DIST=DIR node build.mjs), e.g. WEFT_DIST=.tmp/dist-x node test/bench/run.mjs l7 --only waypoint,nginx
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';

const [name, ...args] = process.argv.slice(2);
if (!name || !existsSync(`test/bench/${name}/main.ts`)) {
  console.error('usage: node test/bench/run.mjs <name> [args...]   (name: a folder under test/bench with main.ts)');
  process.exit(2);
}
mkdirSync('.tmp/bench', { recursive: true });
const outfile = `.tmp/bench/${name}.mjs`;
await build({
  entryPoints: [`test/bench/${name}/main.ts`],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  logLevel: 'warning',
});
const child = spawn(process.execPath, ['--expose-gc', outfile, ...args], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
