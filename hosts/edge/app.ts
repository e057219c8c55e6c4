/**
 * The edge host: a Hono app that is a Weft gateway on serverless edge runtimes (Deno, workerd,
 * Node). `createEdgeApp({ source })` gives a fetch handler; the entry points (entry/*.ts) are a few
 * lines over it. Config arrives from an EdgeConfigSource (config-contract.ts: REST-JSON xDS poller
 * or a bundled snapshot) as whole sets; each set is decoded and compiled beside the serving one and
 * swapped in at once (edge-gateway.ts). `/healthz/ready` answers 200 once a config serves, 503
 * before; every other request goes through the gateway.
 *
 * Runtimes that allow no I/O or timers outside a request (workerd) pass `lazy: true`: the source
 * starts with the first request, which then waits (bounded) for the first config.
 */
import { Hono } from 'hono';
import type { PluginRuntime } from '../../core/plugin/contract.ts';
import { createPluginRuntime } from '../../core/plugin/runtime.ts';
import type { EdgeConfigSource } from './config-contract.ts';
import { EdgeGateway, type EdgeLog } from './edge-gateway.ts';
import { bundledPluginLoader, type BundledPlugin } from './plugins.ts';
import { resourcesFromResponses, versionOf, type EdgeResponses } from './resources.ts';

export interface EdgeAppOptions {
  source: EdgeConfigSource;
  /** The plugins bundled with this deploy (prepared jco output; plugins.ts). */
  plugins?: readonly BundledPlugin[];
  log?: EdgeLog;
  /** Upstream fetch (default: the runtime's). */
  fetch?: typeof fetch;
  /** The downstream address of a request, as the runtime reports it (default: none known). */
  clientIp?: (req: Request, env: unknown) => string;
  /** Start the source on the first request instead of now (workerd). */
  lazy?: boolean;
  /** How long a request waits for the first config before 503 (lazy start; default 5000 ms). */
  firstConfigWaitMs?: number;
}

export interface EdgeHost {
  app: Hono;
  gateway: EdgeGateway;
  /** Resolves when the first config serves. */
  ready: Promise<void>;
  stop(): void;
}

const defaultLog: EdgeLog = (level, message) => {
  if (level !== 'debug') console.log(`${new Date().toISOString()} ${level} ${message}`);
};

export function createEdgeHost(o: EdgeAppOptions): EdgeHost {
  const log = o.log ?? defaultLog;
  let runtime: PluginRuntime | undefined;
  if (o.plugins?.length) runtime = createPluginRuntime(bundledPluginLoader(o.plugins), { log: (plugin, level, msg) => log(level === 'error' ? 'error' : level === 'warn' ? 'warn' : 'info', `plugin ${plugin}: ${msg}`) });
  const gateway = new EdgeGateway({ ...(o.fetch ? { fetch: o.fetch } : {}), ...(runtime ? { plugins: runtime } : {}), log });
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  let loaded = false;
  let version = '';
  // one change at a time, in order; a set equal to the serving one is not compiled again
  let chain: Promise<void> = Promise.resolve();
  const onChange = (responses: EdgeResponses): void => {
    chain = chain.then(async () => {
      const v = versionOf(responses);
      if (loaded && v === version) return;
      const { resources, errors } = resourcesFromResponses(responses);
      for (const e of errors) log('warn', `config: ${e} (left out)`);
      try {
        await gateway.apply(resources);
        version = v;
        if (!loaded) {
          loaded = true;
          markReady();
        }
      } catch (e) {
        log('error', `config ${v}: ${(e as Error).message}; the previous config serves on`);
      }
    });
  };
  let started = false;
  const start = (): void => {
    if (started) return;
    started = true;
    o.source.start(onChange);
  };
  if (!o.lazy) start();
  const waitMs = o.firstConfigWaitMs ?? 5000;
  const clientIp = o.clientIp ?? (() => '');

  const app = new Hono();
  app.get('/healthz/ready', async () => {
    start();
    return loaded ? new Response('ready\n') : new Response('waiting for the first config\n', { status: 503 });
  });
  app.all('*', async (c) => {
    if (!loaded) {
      start();
      await Promise.race([ready, new Promise((r) => setTimeout(r, waitMs))]);
    }
    return gateway.handle(c.req.raw, clientIp(c.req.raw, c.env));
  });
  return {
    app,
    gateway,
    ready,
    stop: () => o.source.stop(),
  };
}

/** The Hono app alone (a fetch handler), for entry points that need nothing else. */
export function createEdgeApp(o: EdgeAppOptions): Hono {
  return createEdgeHost(o).app;
}
