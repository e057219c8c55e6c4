/**
 * Translated resources (XdsTranslator output, core/xds) -> the updates NodeStateStore applies
 * (which decodes them), without an xDS hop: what `weft up` hands its in-process node proxy (design.md 4) and what tests
 * use. Against the previous translation only changed and removed names are passed on, as delta
 * xDS would.
 */
import type { ResourceMap } from '../xds/encoded-resource.ts';
import { TYPE_URL } from '../xds/type-urls.ts';
import type { NodeResourceUpdate } from './store.ts';

/** The types a node proxy watches, in push order (policies before the workloads naming them). */
export const NODE_TYPE_URLS: readonly string[] = [TYPE_URL.authorization, TYPE_URL.address];

export function updatesFromResources(now: ResourceMap, before?: ResourceMap): NodeResourceUpdate[] {
  return NODE_TYPE_URLS.map((typeUrl) => {
    const cur = now.get(typeUrl) ?? new Map();
    const prev = before?.get(typeUrl);
    const resources: { name: string; bytes: Uint8Array }[] = [];
    for (const [name, r] of cur) {
      if (prev?.get(name)?.version === r.version) continue;
      resources.push({ name, bytes: r.bytes });
    }
    const removed: string[] = [];
    for (const name of prev?.keys() ?? []) if (!cur.has(name)) removed.push(name);
    return { typeUrl, resources, removed };
  });
}
