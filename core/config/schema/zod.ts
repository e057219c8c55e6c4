/**
 * The one zod instance every schema module imports. `jitless` must be set before any object schema is
 * built: zod v4 otherwise probes `new Function` for its JIT, which workerd forbids (design.md 8).
 */
import * as z from 'zod';

z.config({ jitless: true });

export { z };
