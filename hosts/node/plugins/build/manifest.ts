/**
 * weft-plugin.json, the one file that names a plugin and its kind: { "name": "...", "kind": ... }.
 * The kind is the WIT world the component is built for.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export type PluginKindName = 'http-filter' | 'l4-policy' | 'endpoint-picker';
export const PLUGIN_KINDS: readonly PluginKindName[] = ['http-filter', 'l4-policy', 'endpoint-picker'];

export interface PluginManifest {
  name: string;
  kind: PluginKindName;
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function parseManifest(text: string, where = 'weft-plugin.json'): PluginManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not JSON (${(e as Error).message})`);
  }
  const m = raw as Partial<PluginManifest> | null;
  if (!m || typeof m !== 'object') throw new Error(`${where}: expected an object with name and kind`);
  if (typeof m.name !== 'string' || !NAME.test(m.name)) {
    throw new Error(`${where}: name must be lower-case letters, digits and '-' (a DNS label), got ${JSON.stringify(m.name)}`);
  }
  if (!PLUGIN_KINDS.includes(m.kind as PluginKindName)) {
    throw new Error(`${where}: kind must be one of ${PLUGIN_KINDS.join(', ')}, got ${JSON.stringify(m.kind)}`);
  }
  return { name: m.name, kind: m.kind as PluginKindName };
}

export async function readManifest(dir: string): Promise<PluginManifest> {
  const path = join(dir, 'weft-plugin.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new Error(`${path} not found: a plugin directory needs weft-plugin.json ({ "name": ..., "kind": ... })`);
  }
  return parseManifest(text, path);
}
