/**
 * The control plane's Prometheus metrics, served on 15014 /metrics. Names follow istiod's where one
 * exists (pilot_xds, pilot_xds_pushes, pilot_total_xds_rejects, citadel_server_*), so dashboards
 * built for istiod read Weft's control plane too.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ControlMetrics {
  readonly registry = new Registry();

  /** Connected xDS streams, by type of proxy (`node`, `gateway`, `waypoint`, `grpc`, ...). */
  readonly connectedProxies = new Gauge({
    name: 'pilot_xds',
    help: 'Number of endpoints connected to this control plane using xDS.',
    labelNames: ['version', 'proxy_type'],
    registers: [this.registry],
  });
  readonly pushes = new Counter({
    name: 'pilot_xds_pushes',
    help: 'xDS responses sent, by resource type.',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly pushTime = new Histogram({
    name: 'pilot_proxy_convergence_time',
    help: 'Seconds from a config change to the push reaching every connected proxy (sent).',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3, 5, 10],
    registers: [this.registry],
  });
  readonly nacks = new Counter({
    name: 'pilot_total_xds_rejects',
    help: 'xDS responses rejected (NACKed) by proxies, by resource type.',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly configVersion = new Gauge({
    name: 'weft_config_version',
    help: 'Version of the current mesh snapshot.',
    registers: [this.registry],
  });
  readonly configErrors = new Gauge({
    name: 'weft_config_issues',
    help: 'Current config issues, by severity.',
    labelNames: ['severity'],
    registers: [this.registry],
  });
  readonly csrs = new Counter({
    name: 'citadel_server_csr_count',
    help: 'Certificate signing requests received.',
    registers: [this.registry],
  });
  readonly certsIssued = new Counter({
    name: 'citadel_server_success_cert_issuance_count',
    help: 'Certificates issued.',
    registers: [this.registry],
  });
  readonly certsRefused = new Counter({
    name: 'weft_ca_refused_total',
    help: 'Certificate signing requests refused, by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
}
