/** `weft plugin new NAME --kind K [--dir PARENT]`: writes a working plugin directory. */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseManifest, type PluginKindName } from './manifest.ts';
import { pluginSdkDir } from './paths.ts';
import { scaffoldFiles } from './templates.ts';

export async function scaffoldPlugin(name: string, kind: PluginKindName, parent = '.'): Promise<{ dir: string; files: string[] }> {
  parseManifest(JSON.stringify({ name, kind }), 'plugin name and kind'); // the same rules as build
  const dir = resolve(parent, name);
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new Error(`${dir} exists and is not empty`);
  const files = scaffoldFiles(name, kind, pluginSdkDir());
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return { dir, files: Object.keys(files) };
}
