/**
 * "Where each plugin is applied" for /debug/status: per WasmPlugin, the proxies its
 * TypedExtensionConfig (ECDS, core/xds/plugins.ts) was delivered to and what each answered: ACKED,
 * NACKED with the proxy's message (a plugin that failed to load there), or SENT and not answered yet.
 */
import type { MeshSnapshot } from '../../../core/config/snapshot.ts';
import { TYPE_URL } from '../../../core/xds/type-urls.ts';
import { pluginKindOf, pluginName } from '../../../core/xds/plugins-select.ts';
import type { PluginKind } from '../../../core/plugin/contract.ts';
import type { ResourceAnswer, SynczEntry } from '../xds/connection.ts';

export interface PluginProxyStatus {
  /** The stream's id in /debug/syncz. */
  proxy: string;
  proxyType: string;
  /** The proxy's name: its join token's (`ns/name` of a gateway or waypoint, a node's name), else its node id. */
  name: string;
  status: ResourceAnswer['status'];
  version: string;
  at: string;
  error?: string;
}

export interface PluginStatusEntry {
  /** `<namespace>.<name>`: the ECDS resource and HTTP filter name. */
  name: string;
  namespace: string;
  wasmPlugin: string;
  kind: PluginKind;
  proxies: PluginProxyStatus[];
}

export function pluginStatus(snap: MeshSnapshot | undefined, syncz: readonly unknown[]): PluginStatusEntry[] {
  const list = snap?.resources.get('WasmPlugin') ?? [];
  if (list.length === 0) return [];
  const out = new Map<string, PluginStatusEntry>();
  for (const r of list) {
    const name = pluginName(r);
    out.set(name, { name, namespace: r.metadata.namespace, wasmPlugin: r.metadata.name, kind: pluginKindOf(r), proxies: [] });
  }
  for (const raw of syncz) {
    const p = raw as SynczEntry;
    const per = p.types?.[TYPE_URL.extensionConfig]?.perResource;
    if (!per) continue;
    const who = typeof p.caller?.name === 'string' ? p.caller.name : p.node?.id ?? '';
    for (const [name, a] of Object.entries(per)) {
      const e = out.get(name);
      if (!e) continue;
      e.proxies.push({ proxy: p.id, proxyType: p.proxyType, name: who, status: a.status, version: a.version, at: a.at, ...(a.error !== undefined ? { error: a.error } : {}) });
    }
  }
  return [...out.values()];
}
