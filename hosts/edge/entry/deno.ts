/**
 * The edge host on Deno: `deno serve --port 8080 --allow-net --allow-env --allow-read hosts/edge/entry/deno.ts`
 * (deploy/edge/deno.json). Environment as entry/node.ts: `WEFT_SNAPSHOT` (a file) or the polling
 * variables, `WEFT_PLUGINS_DIR` (prepared plugins; Deno compiles their core modules at start).
 */
import { createEdgeHost } from '../app.ts';
import type { EdgeSnapshot } from '../config-contract.ts';
import { loadPreparedDir } from '../prepared-dir.ts';
import { configSource, type EdgeEnv } from './env-source.ts';
// Deno's fetch replaces the Host header with the URL's host, and a gateway must send the client's
// authority (or the route's rewrite) to the endpoint's address: the upstream calls go through Deno's
// node:http compatibility instead (the one node: use outside the Node entry; see README.md).
import { nodeFetch } from './node-fetch.ts';

declare const Deno: {
  env: { toObject(): Record<string, string> };
  readTextFile(p: string): Promise<string>;
  readFile(p: string): Promise<Uint8Array>;
};

const env = Deno.env.toObject() as EdgeEnv & Record<string, string>;
const snapshot = env.WEFT_SNAPSHOT ? (JSON.parse(await Deno.readTextFile(env.WEFT_SNAPSHOT)) as EdgeSnapshot) : undefined;
const plugins = env.WEFT_PLUGINS_DIR ? await loadPreparedDir(env.WEFT_PLUGINS_DIR, { readText: (p) => Deno.readTextFile(p), readBytes: (p) => Deno.readFile(p), importFile: (p) => import(new URL(`file://${p}`).href) }) : undefined;
const host = createEdgeHost({
  source: configSource(env, snapshot),
  ...(plugins ? { plugins } : {}),
  fetch: nodeFetch(),
  // deno serve passes ServeHandlerInfo as the second argument (Hono's env)
  clientIp: (_req, info) => (info as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr?.hostname ?? '',
});

export default { fetch: host.app.fetch };
