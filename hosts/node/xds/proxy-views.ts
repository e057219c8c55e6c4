/**
 * What one proxy receives from a translation (core/route/README.md "Who receives what"), shared by
 * the ADS streams (ads-server.ts) and REST-JSON xDS for the edge host (control/rest-xds.ts), so both
 * give a gateway the same resources: node proxies and proxyless clients get the translation as it is
 * (plus the l4-policy plugins of their node); a gateway or waypoint (WEFT_ROLE in its node metadata)
 * gets only the listeners, route configurations, secrets and plugins of the gateways it serves,
 * beside the mesh-wide clusters, endpoints and per-service route configurations. Views are cached by
 * scope, per translation.
 */
import { TYPE_URL } from '../../../core/xds/index.ts';
import type { EncodedResource, NodeInfo, XdsResources } from '../../../core/xds/index.ts';
import { LayeredMap } from '../../../core/xds/layered-map.ts';
import type { L7Proxy } from '../../../core/xds/l7/index.ts';
import type { XdsCaller } from './connection.ts';

/** The types a gateway or waypoint receives per proxy. */
const SCOPED_TYPES: readonly string[] = [TYPE_URL.listener, TYPE_URL.route, TYPE_URL.secret, TYPE_URL.extensionConfig];
/** The one type a node proxy receives per proxy: its l4-policy plugins (the rest is mesh-wide and shared). */
const NODE_SCOPED_TYPES: ReadonlySet<string> = new Set([TYPE_URL.extensionConfig]);

/** Who asks: its node (from its first request), its caller (from its token), and its L7 role if any. */
export interface ViewRequester {
  node: NodeInfo;
  caller?: XdsCaller | undefined;
  /** l7ProxyOf(node), or null for node proxies and proxyless clients. */
  l7Proxy: L7Proxy | null;
}

export class ProxyViews {
  #viewsFor?: XdsResources;
  readonly #views = new Map<string, XdsResources>();
  /** Views whose scope covers only some types (node proxies' plugin views); others scope every type. */
  readonly #scopedTypes = new WeakMap<XdsResources, ReadonlySet<string>>();

  /** The part of a view that is per proxy: undefined when every type of it is (or it is not a view). */
  scopedTypes(view: XdsResources): ReadonlySet<string> | undefined {
    return this.#scopedTypes.get(view);
  }

  /** What `who` receives of `res`; `secrets`: whether gateways get Secrets (TLS keys) on this listener. */
  viewFor(res: XdsResources, who: ViewRequester, secrets: boolean): XdsResources {
    const proxy = who.l7Proxy;
    if (!proxy) return res.nodePlugins ? this.#nodeView(who, res) : res;
    if (!res.l7) return res;
    this.#reset(res);
    const keys = res.l7.servedBy(proxy);
    const scopeKey = `${keys.join(',')}${secrets ? '+secrets' : ''}`;
    const hit = this.#views.get(scopeKey);
    if (hit) return hit;
    const scoped = res.l7.scope(keys);
    const resources = new Map(res.resources);
    const byName = (list: readonly EncodedResource[]) => new Map(list.map((r) => [r.name, r]));
    resources.set(TYPE_URL.listener, byName(scoped.listeners));
    const meshRoutes = res.resources.get(TYPE_URL.route);
    resources.set(TYPE_URL.route, meshRoutes instanceof LayeredMap ? meshRoutes.with(byName(scoped.routes)) : new Map([...(meshRoutes ?? []), ...byName(scoped.routes)]));
    resources.set(TYPE_URL.secret, secrets ? byName(scoped.secrets) : new Map());
    resources.set(TYPE_URL.extensionConfig, byName(scoped.plugins));
    // The scoped types are compared in full on each push (they are few); the others incrementally.
    const changes = res.changes && { sinceId: res.changes.sinceId, byType: new Map([...res.changes.byType].filter(([t]) => !SCOPED_TYPES.includes(t))) };
    const view: XdsResources = { ...res, resources, scopeKey, ...(changes ? { changes } : {}) };
    this.#views.set(scopeKey, view);
    return view;
  }

  /**
   * A node proxy's view: the translation plus the l4-policy plugins that select workloads of its node
   * (NODE_NAME metadata, else its join token's node). Cached by that set of plugins, per translation.
   */
  #nodeView(who: ViewRequester, res: XdsResources): XdsResources {
    const meta = who.node.metadata['NODE_NAME'];
    const node = typeof meta === 'string' && meta ? meta : who.caller?.kind === 'node' && typeof who.caller.name === 'string' ? who.caller.name : undefined;
    const plugins = node ? res.nodePlugins!(node) : [];
    if (plugins.length === 0) return res;
    this.#reset(res);
    const scopeKey = `node-plugins:${plugins.map((p) => `${p.name}@${p.version}`).join(',')}`;
    const hit = this.#views.get(scopeKey);
    if (hit) return hit;
    const resources = new Map(res.resources);
    resources.set(TYPE_URL.extensionConfig, new Map(plugins.map((r) => [r.name, r])));
    const view: XdsResources = { ...res, resources, scopeKey };
    this.#scopedTypes.set(view, NODE_SCOPED_TYPES);
    this.#views.set(scopeKey, view);
    return view;
  }

  #reset(res: XdsResources): void {
    if (this.#viewsFor !== res) {
      this.#views.clear();
      this.#viewsFor = res;
    }
  }
}
