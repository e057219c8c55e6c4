/**
 * The edge host on Node (`@hono/node-server`): `node edge-node.mjs` (the bundle of this file).
 * Environment: `PORT` (8080), `HOST` (0.0.0.0), `WEFT_SNAPSHOT` (a snapshot JSON file) or the
 * polling variables of env-source.ts, `WEFT_PLUGINS_DIR` (prepared plugins, prepared-dir.ts).
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { serve } from '@hono/node-server';
import { createEdgeHost } from '../app.ts';
import type { EdgeSnapshot } from '../config-contract.ts';
import { loadPreparedDir } from '../prepared-dir.ts';
import { configSource } from './env-source.ts';
import { nodeFetch } from './node-fetch.ts';

// QuickJS plugins use extended-const, behind a flag on Node 20 (set before the first compile)
setFlagsFromString('--experimental-wasm-extended-const');
const env = process.env;
const snapshot = env.WEFT_SNAPSHOT ? (JSON.parse(await readFile(env.WEFT_SNAPSHOT, 'utf8')) as EdgeSnapshot) : undefined;
const plugins = env.WEFT_PLUGINS_DIR ? await loadPreparedDir(env.WEFT_PLUGINS_DIR, { readText: (p) => readFile(p, 'utf8'), readBytes: async (p) => new Uint8Array(await readFile(p)), importFile: (p) => import(pathToFileURL(p).href) }) : undefined;
const upstream = nodeFetch();
const host = createEdgeHost({
  source: configSource(env, snapshot, (i, init) => fetch(i, init)),
  ...(plugins ? { plugins } : {}),
  fetch: upstream,
  clientIp: (_req, e) => ((e as { incoming?: { socket: { remoteAddress?: string } } }).incoming?.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
});
const server = serve({ fetch: host.app.fetch, port: Number(env.PORT ?? 8080), hostname: env.HOST ?? '0.0.0.0' }, (info) => console.log(`weft edge host (node) listening on http://${info.address}:${info.port}`));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { host.stop(); server.close(); process.exit(0); });
