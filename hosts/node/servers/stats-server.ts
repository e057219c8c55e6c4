/**
 * Prometheus metrics on 15020 `/stats/prometheus` (where Istio's scrape annotations point) and
 * `/metrics`. Several sources are concatenated: core's TcpMetrics (Istio's TCP counters) and a
 * prom-client Registry (process and proxy metrics) both have `metrics()`.
 */
import { PROMETHEUS_CONTENT_TYPE } from '../../../core/telemetry/prometheus-text.ts';
import { SideHttpServer, text, type Reply, type SideServerOptions } from './side-http-server.ts';

export interface MetricsSource {
  metrics(): string | Promise<string>;
}

export interface StatsServerOptions extends SideServerOptions {
  metrics: MetricsSource | MetricsSource[];
}

export class StatsServer extends SideHttpServer {
  constructor(options: StatsServerOptions) {
    super('stats', options, 15020);
    const sources = Array.isArray(options.metrics) ? options.metrics : [options.metrics];
    const scrape = async (): Promise<Reply> => {
      let body = '';
      for (const s of sources) {
        const part = await s.metrics();
        if (part.length === 0) continue;
        body += part.endsWith('\n') ? part : `${part}\n`;
      }
      return { status: 200, type: PROMETHEUS_CONTENT_TYPE, body };
    };
    this.routes.set('/stats/prometheus', scrape);
    this.routes.set('/metrics', scrape);
    this.routes.set('/', () => text(200, '/stats/prometheus\n/metrics\n'));
  }
}
