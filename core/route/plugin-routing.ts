/**
 * What a plugin's `route` and `cluster` choices resolve to in an L7 host (the Node RouteHandler,
 * the edge app):
 * routes looked up by name, clusters as route cluster choices, and the forward action used when a
 * plugin names a cluster and no forward route matched.
 */
import { ForwardAction as ForwardActionClass } from './actions.ts';
import type { ClusterChoice, CompiledRoute, RouteTable } from './index.ts';

/** Request bodies read for the plugins' request-body phase: at most 1 MiB (more is answered 413). */
export const PLUGIN_BODY_LIMIT = 1024 * 1024;

/** A plugin's `cluster` choice when no forward route matched: the cluster with Envoy's defaults (no timeout, no retries). */
export const PLAIN_FORWARD = new ForwardActionClass([], new Float64Array(0), 0, undefined, undefined, undefined, undefined as never, [], undefined, new Map());

/** A plugin's `cluster` choice as a route's cluster choice (no header ops of its own), one object per name. */
const pluginChoices = new Map<string, ClusterChoice>();

export function pluginChoice(name: string): ClusterChoice {
  let c = pluginChoices.get(name);
  if (c === undefined) {
    if (pluginChoices.size >= 1024) pluginChoices.clear(); // a guest naming endless clusters must not grow this
    c = { name, invalid: false, requestHeaders: [], responseHeaders: [], hostRewrite: undefined };
    pluginChoices.set(name, c);
  }
  return c;
}

/** Routes by name (a plugin's `route` choice), indexed once per compiled table. */
const routesByName = new WeakMap<RouteTable, Map<string, CompiledRoute>>();

export function routeNamed(table: RouteTable, name: string): CompiledRoute | undefined {
  let m = routesByName.get(table);
  if (m === undefined) {
    m = new Map();
    for (const vh of table.virtualHosts) for (const r of vh.routes) if (r.name && !m.has(r.name)) m.set(r.name, r);
    routesByName.set(table, m);
  }
  return m.get(name);
}
