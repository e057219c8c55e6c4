/**
 * Plugin metrics on /stats/prometheus: the runtime's call counts (`weft_plugin_calls_total{plugin,
 * result}`, result `ok` or a failure cause, and `weft_plugin_recycles_total`), rendered from
 * status() at scrape time, and each plugin's own counters and histograms (host `counter-add`,
 * `histogram-record`): `weft_plugin_<metric>_total{plugin}` and `weft_plugin_<metric>` (count and
 * sum, summary style: a guest's values have no buckets of their own).
 */
import type { PluginStatus } from '../../../core/plugin/contract.ts';
import { escapeLabelValue, familyHeader, formatValue } from '../../../core/telemetry/prometheus-text.ts';

/** The runtime's metrics sink (core/plugin/host-imports.ts PluginMetricsSink). */
export interface PluginMetricsSinkLike {
  counterAdd(plugin: string, metric: string, delta: number): void;
  histogramRecord(plugin: string, metric: string, value: number): void;
}

const CAUSES = ['trap', 'timeout', 'memory', 'error'] as const;

/** A metric name part from a guest: Prometheus' charset, lower case. */
function metricName(m: string): string {
  const s = m.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return /^[a-z_]/.test(s) ? s : `_${s}`;
}

export class PluginMetrics implements PluginMetricsSinkLike {
  /** metric -> plugin -> value */
  readonly #counters = new Map<string, Map<string, number>>();
  readonly #histograms = new Map<string, Map<string, { count: number; sum: number }>>();

  constructor(private readonly status: () => readonly PluginStatus[]) {}

  counterAdd(plugin: string, metric: string, delta: number): void {
    const name = metricName(metric);
    let m = this.#counters.get(name);
    if (m === undefined) this.#counters.set(name, (m = new Map()));
    m.set(plugin, (m.get(plugin) ?? 0) + Number(delta));
  }

  histogramRecord(plugin: string, metric: string, value: number): void {
    const name = metricName(metric);
    let m = this.#histograms.get(name);
    if (m === undefined) this.#histograms.set(name, (m = new Map()));
    let h = m.get(plugin);
    if (h === undefined) m.set(plugin, (h = { count: 0, sum: 0 }));
    h.count++;
    h.sum += value;
  }

  /** MetricsSource (StatsServer). */
  metrics(): string {
    const st = this.status();
    let out = '';
    if (st.length) {
      out += familyHeader('weft_plugin_calls_total', 'Plugin calls by result (ok, or the failure cause: trap, timeout, memory, error).', 'counter');
      for (const s of st) {
        const p = escapeLabelValue(s.name);
        const failed = s.failures.trap + s.failures.timeout + s.failures.memory + s.failures.error;
        out += `weft_plugin_calls_total{plugin="${p}",result="ok"} ${formatValue(Math.max(0, s.calls - failed))}\n`;
        for (const c of CAUSES) out += `weft_plugin_calls_total{plugin="${p}",result="${c}"} ${formatValue(s.failures[c])}\n`;
      }
      out += familyHeader('weft_plugin_recycles_total', 'Plugin instances replaced after a failure.', 'counter');
      for (const s of st) out += `weft_plugin_recycles_total{plugin="${escapeLabelValue(s.name)}"} ${formatValue(s.recycles)}\n`;
      out += familyHeader('weft_plugin_ready', 'Whether a version of the plugin serves traffic (1) or not (0).', 'gauge');
      for (const s of st) out += `weft_plugin_ready{plugin="${escapeLabelValue(s.name)}"} ${s.state === 'ready' ? 1 : 0}\n`;
    }
    for (const [metric, byPlugin] of this.#counters) {
      const name = `weft_plugin_${metric}_total`;
      out += familyHeader(name, `Plugin counter ${metric}.`, 'counter');
      for (const [plugin, v] of byPlugin) out += `${name}{plugin="${escapeLabelValue(plugin)}"} ${formatValue(v)}\n`;
    }
    for (const [metric, byPlugin] of this.#histograms) {
      const name = `weft_plugin_${metric}`;
      out += `# HELP ${name} Plugin histogram ${metric}.\n# TYPE ${name} summary\n`;
      for (const [plugin, h] of byPlugin) {
        const l = `{plugin="${escapeLabelValue(plugin)}"}`;
        out += `${name}_count${l} ${formatValue(h.count)}\n${name}_sum${l} ${formatValue(h.sum)}\n`;
      }
    }
    return out;
  }
}
