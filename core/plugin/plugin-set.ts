/**
 * An immutable snapshot of the plugins in force (contract.ts PluginSet). Ordered by phase (AUTHN,
 * AUTHZ, STATS, unspecified), then priority (higher first), then name; the per-port filter lists
 * are computed on first use and kept.
 */
import type { EndpointPickerHandle, HttpFilterHandle, L4PolicyHandle, PluginBinding, PluginPhase, PluginSet } from './contract.ts';

const PHASE_RANK: Record<PluginPhase, number> = { AUTHN: 0, AUTHZ: 1, STATS: 2, UNSPECIFIED_PHASE: 3 };

export function compareBindings(a: PluginBinding, b: PluginBinding): number {
  const pa = PHASE_RANK[a.phase] ?? 3;
  const pb = PHASE_RANK[b.phase] ?? 3;
  if (pa !== pb) return pa - pb;
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export interface BoundHandle<H> {
  binding: PluginBinding;
  handle: H;
}

export class ImmutablePluginSet implements PluginSet {
  readonly httpFilters: readonly HttpFilterHandle[];
  readonly l4Policies: readonly L4PolicyHandle[];
  readonly endpointPicker: EndpointPickerHandle | undefined;
  private readonly filterPorts: readonly (readonly number[])[];
  private readonly byPort = new Map<number, readonly HttpFilterHandle[]>();

  constructor(
    readonly version: number,
    filters: BoundHandle<HttpFilterHandle>[],
    l4: BoundHandle<L4PolicyHandle>[],
    pickers: BoundHandle<EndpointPickerHandle>[],
  ) {
    const byOrder = (a: BoundHandle<unknown>, b: BoundHandle<unknown>) => compareBindings(a.binding, b.binding);
    filters = [...filters].sort(byOrder);
    this.httpFilters = Object.freeze(filters.map((f) => f.handle));
    this.filterPorts = filters.map((f) => f.binding.ports);
    this.l4Policies = Object.freeze([...l4].sort(byOrder).map((p) => p.handle));
    this.endpointPicker = [...pickers].sort(byOrder)[0]?.handle;
  }

  httpFiltersFor(port: number): readonly HttpFilterHandle[] {
    let list = this.byPort.get(port);
    if (list === undefined) {
      list = Object.freeze(this.httpFilters.filter((_, i) => this.filterPorts[i]!.length === 0 || this.filterPorts[i]!.includes(port)));
      this.byPort.set(port, list);
    }
    return list;
  }
}

export const EMPTY_PLUGIN_SET: PluginSet = new ImmutablePluginSet(0, [], [], []);
