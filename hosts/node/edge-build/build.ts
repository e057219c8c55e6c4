/**
 * `weft edge build`: a ready-to-deploy directory for one edge runtime (workerd, Deno, Node) from an
 * edge snapshot or a control plane: the snapshot (when bundled), the prepared plugins its config
 * names (plugins.ts), the bundled worker/app and the runtime's config (targets.ts), and a README
 * saying how to run it (readme.ts).
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { resourcesFromResponses } from '../../edge/resources.ts';
import type { PreparedManifestEntry } from '../../edge/prepared-dir.ts';
import { pollOnce, type EdgeConfigMode, type Responses } from './config-mode.ts';
import { bundlePlugins, type PluginSources } from './plugins.ts';
import { deployReadme } from './readme.ts';
import { weftRoot } from './sources.ts';
import { buildDeno, buildNode, buildWorkerd, type EdgeTarget } from './targets.ts';

export interface EdgeBuildOptions {
  target: EdgeTarget;
  mode: EdgeConfigMode;
  out: string;
  /** the port the deploy listens on by default (8080) */
  port?: number;
  plugins: PluginSources;
  /** the Weft package root with hosts/edge (default: found from this module) */
  root?: string;
  log?: (line: string) => void;
}

export interface EdgeBuildResult {
  out: string;
  files: string[];
  plugins: PreparedManifestEntry[];
  warnings: string[];
}

export async function buildEdgeDeploy(o: EdgeBuildOptions): Promise<EdgeBuildResult> {
  const log = o.log ?? (() => {});
  const out = resolve(o.out);
  const root = o.root ?? weftRoot();
  const port = o.port ?? 8080;
  await mkdir(out, { recursive: true });
  const leftovers = (await readdir(out)).filter((f) => !f.startsWith('.'));
  if (leftovers.length) throw new Error(`${out} is not empty (${leftovers.slice(0, 3).join(', ')}${leftovers.length > 3 ? ', ...' : ''}): give a new or empty directory`);
  let responses: Responses;
  if (o.mode.kind === 'snapshot') {
    responses = o.mode.snapshot.responses;
    await writeFile(join(out, 'snapshot.json'), `${JSON.stringify(o.mode.snapshot, null, 2)}\n`);
  } else {
    log(`reading the current config from ${o.mode.url} (for the plugins it names)`);
    responses = await pollOnce(o.mode.url, o.mode.token, o.mode.labels);
  }
  const { resources, errors } = resourcesFromResponses(responses);
  const warnings = errors.map((e) => `config: ${e}`);
  const bindings = resources.plugins.filter((b) => b.kind === 'http-filter');
  for (const b of resources.plugins) if (b.kind !== 'http-filter') warnings.push(`plugin ${b.name}: a ${b.kind} plugin is not run on the edge host; not bundled`);
  const plugins = bindings.length ? await bundlePlugins(bindings, join(out, 'plugins'), { ...o.plugins, log }) : [];
  const input = { root, out, mode: o.mode, plugins, port };
  const files = o.target === 'workerd' ? await buildWorkerd(input) : o.target === 'deno' ? await buildDeno(input) : await buildNode(input);
  if (o.mode.kind === 'snapshot') files.push('snapshot.json');
  if (plugins.length) files.push('plugins/');
  files.push('README.md');
  await writeFile(join(out, 'README.md'), deployReadme({ target: o.target, mode: o.mode, plugins, port, files }));
  return { out, files, plugins, warnings };
}
