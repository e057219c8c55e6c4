/**
 * The tracing flags `weft gateway` and `weft waypoint` share (hosts/node/l7-proxy/tracing.ts):
 * `--otlp-endpoint URL` (spans as OTLP/HTTP JSON to URL/v1/traces), `--trace-sampling PERCENT`
 * (started traces; an incoming traceparent's sampled flag always wins; Istio's default 1) and
 * `--otlp-flush-ms` (the export interval, the batch span processor's 5 s).
 */
import type { Command } from 'commander';

export interface TracingFlags {
  otlpEndpoint?: string;
  traceSampling: string;
  otlpFlushMs: string;
}

export function tracingOptions(cmd: Command): Command {
  return cmd
    .option('--otlp-endpoint <url>', 'export spans as OTLP/HTTP JSON to <url>/v1/traces (e.g. http://otel-collector:4318); traceparent is propagated either way')
    .option('--trace-sampling <percent>', 'percent of the traces this proxy starts that are sampled (an incoming sampled flag is kept)', '1')
    .option('--otlp-flush-ms <ms>', 'export queued spans at least this often', '5000');
}

/** L7ProxyConfig.tracing from the flags (bad values are startup errors). */
export function tracingConfig(f: TracingFlags): { otlpEndpoint?: string; samplingPercent: number; flushMs: number } {
  const samplingPercent = Number(f.traceSampling);
  if (!Number.isFinite(samplingPercent) || samplingPercent < 0 || samplingPercent > 100) throw new Error(`--trace-sampling takes a percentage 0-100, not ${f.traceSampling}`);
  const flushMs = Number(f.otlpFlushMs);
  if (!Number.isInteger(flushMs) || flushMs < 10) throw new Error(`--otlp-flush-ms takes milliseconds (at least 10), not ${f.otlpFlushMs}`);
  if (f.otlpEndpoint !== undefined) {
    let u: URL;
    try {
      u = new URL(f.otlpEndpoint);
    } catch {
      throw new Error(`--otlp-endpoint takes a URL (http://host:4318), not ${f.otlpEndpoint}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--otlp-endpoint must be http:// or https://, not ${f.otlpEndpoint}`);
  }
  return { ...(f.otlpEndpoint ? { otlpEndpoint: f.otlpEndpoint } : {}), samplingPercent, flushMs };
}
