/**
 * The built-in plugins' own cases (plugins/builtin/<name>/plugin.test.ts), imported statically so
 * every runtime gets them the same way: Deno from the sources, workerd inside the esbuild bundle.
 */
import type { PluginTests } from '../../../plugins/sdk/testing.ts';
import abRouter from '../../../plugins/builtin/ab-router/plugin.test.ts';
import headerRewrite from '../../../plugins/builtin/header-rewrite/plugin.test.ts';
import jwtClaims from '../../../plugins/builtin/jwt-claims/plugin.test.ts';
import l4AllowList from '../../../plugins/builtin/l4-allow-list/plugin.test.ts';
import rateLimit from '../../../plugins/builtin/rate-limit/plugin.test.ts';

// Each file's default export `satisfies PluginTests`; its inferred literal type (optional keys
// as `?: undefined` under exactOptionalPropertyTypes) does not widen to it, hence the casts.
const t = (v: unknown): PluginTests => v as PluginTests;

export const PLUGIN_TESTS: Record<string, PluginTests> = {
  'ab-router': t(abRouter),
  'header-rewrite': t(headerRewrite),
  'jwt-claims': t(jwtClaims),
  'l4-allow-list': t(l4AllowList),
  'rate-limit': t(rateLimit),
};
