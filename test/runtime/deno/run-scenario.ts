/**
 * Deno entry of the runtime harness: runs the core scenario from the TypeScript sources as they are
 * (no bundling) and prints one JSON line, `{runtime, version, env, result}`, for runtimes.test.ts.
 * Run: deno run --config test/runtime/deno/deno.json test/runtime/deno/run-scenario.ts
 */
import { runCoreScenario } from '../scenario.ts';

declare const Deno: { version: { deno: string } };

const result = await runCoreScenario();
const g = globalThis as { process?: unknown; Buffer?: unknown };
const env = { process: typeof g.process, Buffer: typeof g.Buffer };
console.log(JSON.stringify({ runtime: 'deno', version: Deno.version.deno, env, result }));
