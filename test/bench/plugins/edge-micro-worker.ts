/**
 * workerd side of the in-process edge measurements (edge-micro.ts): a module worker over the
 * bundled plugins (glue + core modules imported as Wasm modules, compiled by workerd when it loads
 * the worker; the entry that imports them is generated per run, edge-runtimes.ts). The loops run
 * inside a request handler: standalone workerd enforces no CPU-time limit (workerd.capnp has no
 * such setting; a 5 s busy request completed when tried). Its clock (Date.now and performance.now
 * alike) moves in steps of 1 ms or more, so only batches of calls are timed (edge-micro.ts reports
 * the step it saw).
 *
 *   GET /time?plugin=&calls=&batch=     -> EdgeMicroResult
 *   GET /memory/base?plugin=            -> loads one binding (then the caller reads workerd's RSS)
 *   GET /memory/grow?extra=             -> adds bindings, answers { instances }
 */
import type { BundledPlugin } from '../../../hosts/edge/plugins.ts';
import { memorySteps, timeEdgeCalls } from './edge-micro.ts';
import type { Builtin } from './specs.ts';

// present when the config passes --expose-gc in v8Flags (edge-runtimes.ts does)
const gc = (globalThis as { gc?: () => void }).gc;

export function microWorker(plugins: BundledPlugin[]): { fetch(req: Request): Promise<Response> } {
  let mem: ReturnType<typeof memorySteps> | undefined;
  return {
    async fetch(req) {
      const u = new URL(req.url);
      const q = (k: string) => u.searchParams.get(k) ?? '';
      try {
        if (u.pathname === '/time') {
          const r = await timeEdgeCalls(plugins, { plugin: q('plugin') as Builtin, calls: Number(q('calls')), batch: Number(q('batch')), now: () => performance.now(), perCall: false });
          return Response.json({ runtime: `workerd (${navigator.userAgent})`, ...r });
        }
        if (u.pathname === '/memory/base') {
          mem = memorySteps(plugins, q('plugin') as Builtin);
          await mem.base();
          gc?.();
          return Response.json({ gc: gc !== undefined });
        }
        if (u.pathname === '/memory/grow') {
          const instances = await mem!.grow(Number(q('extra')));
          gc?.();
          return Response.json({ instances });
        }
        return new Response('ready\n');
      } catch (err) {
        return new Response(err instanceof Error ? (err.stack ?? err.message) : String(err), { status: 500 });
      }
    },
  };
}
