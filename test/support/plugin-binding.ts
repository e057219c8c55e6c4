/**
 * A WasmPlugin binding for tests, with the control plane's defaults (an HTTP filter, unspecified
 * phase, priority 0, FAIL_CLOSE, empty config, every port and workload); a test names what matters.
 */
import type { PluginBinding } from '../../core/plugin/contract.ts';

export function pluginBinding(over: Partial<PluginBinding> & Pick<PluginBinding, 'name' | 'url'>): PluginBinding {
  return {
    kind: 'http-filter',
    phase: 'UNSPECIFIED_PHASE',
    priority: 0,
    failStrategy: 'FAIL_CLOSE',
    config: '{}',
    ports: [],
    workloads: [],
    ...over,
  };
}
