/**
 * Per-connection telemetry of the node proxy: Istio's TCP label set (core/telemetry) from the
 * workloads a plan names, one meter per connection, and one JSON access-log line when it closes.
 * Everything here runs once per connection, never per chunk.
 */
import type { NodeService, NodeWorkload } from '../../../core/node/index.ts';
import { connectionLogRecord, tcpLabels } from '../../../core/telemetry/index.ts';
import type { PeerInfo, ResponseFlag, SecurityPolicy, TcpConnectionMeter, TcpLabels } from '../../../core/telemetry/index.ts';
import type { SpliceEnd } from '../servers/index.ts';
import type { NodeProxyInputs } from './inputs.ts';

export function peerOf(w: NodeWorkload | undefined, principal?: string): PeerInfo {
  if (!w) return principal ? { principal } : {};
  return {
    workload: w.workloadName || w.name,
    namespace: w.namespace,
    principal: principal ?? w.identity,
    canonicalService: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    cluster: w.clusterId,
  };
}

export function serviceOf(s: NodeService | undefined): { hostname?: string; name?: string; namespace?: string } {
  return s ? { hostname: s.hostname, name: s.name, namespace: s.namespace } : {};
}

export interface ConnectionRecord {
  via: string;
  srcAddr: string;
  dstAddr: string;
  hboneAddr?: string;
  authz?: { decision: 'allow' | 'deny'; policy?: string };
}

/** One open connection: its meter and what the log line needs; `end()` once. */
export class ConnectionTelemetry {
  readonly start = Date.now();
  readonly meter: TcpConnectionMeter;
  #done = false;

  constructor(
    private readonly inputs: NodeProxyInputs,
    readonly labels: TcpLabels,
    private readonly rec: ConnectionRecord,
  ) {
    this.meter = inputs.metrics.open(labels);
  }

  /** Splice's end (bytes, error) -> close the meter and write the log line. */
  end(end?: Pick<SpliceEnd, 'error'>, flag?: ResponseFlag): void {
    if (this.#done) return;
    this.#done = true;
    this.meter.close(flag);
    const error = end?.error?.message;
    this.inputs.accessLog.log(
      connectionLogRecord({
        startTime: this.start,
        endTime: Date.now(),
        labels: this.labels,
        srcAddr: this.rec.srcAddr,
        dstAddr: this.rec.dstAddr,
        ...(this.rec.hboneAddr ? { hboneAddr: this.rec.hboneAddr } : {}),
        bytes: this.meter,
        ...(flag ? { responseFlags: flag } : {}),
        ...(error ? { error } : {}),
        via: this.rec.via,
        ...(this.rec.authz ? { authz: this.rec.authz } : {}),
      }),
    );
  }
}

export function labelsFor(o: {
  reporter: 'source' | 'destination';
  source?: PeerInfo;
  destination?: PeerInfo;
  service?: NodeService;
  security: SecurityPolicy;
  flag?: ResponseFlag;
}): TcpLabels {
  return tcpLabels({
    reporter: o.reporter,
    ...(o.source ? { source: o.source } : {}),
    ...(o.destination ? { destination: o.destination } : {}),
    service: serviceOf(o.service),
    securityPolicy: o.security,
    ...(o.flag ? { responseFlags: o.flag } : {}),
  });
}

/** A refused connection: counted (opened and closed with `flag`) and logged, no bytes. */
export function logRefusal(inputs: NodeProxyInputs, labels: TcpLabels, rec: ConnectionRecord, flag: ResponseFlag, error: string): void {
  new ConnectionTelemetry(inputs, labels, rec).end({ error: new Error(error) }, flag);
}
