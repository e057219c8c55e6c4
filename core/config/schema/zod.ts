/**
 * The one zod instance every schema module imports, as `import * as z from './zod.ts'`. `jitless` must
 * be set before any object schema is built: zod v4 otherwise probes `new Function` for its JIT, which
 * workerd forbids (design.md 8); this module runs before the modules that import it.
 *
 * `export *` and namespace imports, not `export { z }` of zod's namespace: a namespace passed on as a
 * value is kept whole by the bundler (JSON Schema conversion and the rest: 170 KB more source in
 * every process that validates config), while `z.member` accesses keep only what is used
 * (docs/benchmarks.md, "weft up memory").
 */
import { config } from 'zod';

config({ jitless: true });

export * from 'zod';
