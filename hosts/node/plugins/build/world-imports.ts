/**
 * Which `weft:plugin/*` modules a plugin may import, per world (plugins/wit/weft-plugin.wit), checked
 * on the bundle before componentizing: the componentizers' own message for an import the world
 * lacks is a module-resolution error that does not name the world.
 */
import type { PluginKindName } from './manifest.ts';

const VERSION = '0.2.0';
const IMPORTS: Record<PluginKindName, readonly string[]> = {
  'http-filter': ['host', 'http', 'types'],
  'l4-policy': ['host', 'types'],
  'endpoint-picker': ['host', 'http', 'types'],
};

/** the problems, one line each ([] when every weft:plugin import is in the world) */
export function checkWorldImports(bundle: string, world: PluginKindName): string[] {
  const allowed = IMPORTS[world].map((i) => `weft:plugin/${i}@${VERSION}`);
  const problems: string[] = [];
  // esbuild prints every kept import as `from "<specifier>"` (or a bare `import "<specifier>"`)
  for (const m of bundle.matchAll(/(?:from|import)\s*["'](weft:[^"']*)["']/g)) {
    const spec = m[1]!;
    if (allowed.includes(spec) || problems.some((p) => p.includes(`'${spec}'`))) continue;
    problems.push(`imports '${spec}', which the ${world} world does not offer (it has ${allowed.filter((a) => !a.includes('/types@')).join(', ')})`);
  }
  return problems;
}
