/**
 * workerd entry of the runtime harness: a module worker that runs the core scenario per request and
 * answers `{runtime, env, result}` as JSON (500 with the stack when the scenario throws). Bundled
 * by esbuild for the browser platform and served without nodejs_compat (harness.ts).
 */
import { runCoreScenario } from '../scenario.ts';

export default {
  async fetch(): Promise<Response> {
    try {
      const result = await runCoreScenario();
      const env = { process: typeof (globalThis as { process?: unknown }).process, Buffer: typeof (globalThis as { Buffer?: unknown }).Buffer };
      return Response.json({ runtime: 'workerd', version: navigator.userAgent, env, result });
    } catch (err) {
      return new Response(err instanceof Error ? (err.stack ?? err.message) : String(err), { status: 500 });
    }
  },
};
