/**
 * The JSON access log: one line per connection, written when it closes (ztunnel's "connection
 * complete" record, as JSON). Pure: the host gives times, addresses and counts and writes the line
 * without blocking. Fields the proxy does not know are left out rather than written as "unknown".
 */
import type { ByteCounts } from './tcp-metrics.ts';
import type { ResponseFlag, TcpLabels } from './tcp-labels.ts';

export type AuthzDecision = 'allow' | 'deny';

export interface ConnectionLogInput {
  /** Epoch milliseconds when the connection was accepted. */
  startTime: number;
  /** Epoch milliseconds when it closed. */
  endTime: number;
  /** The connection's label set (workloads, identities, service, security policy, reporter). */
  labels: TcpLabels;
  /** Client address `ip:port` as this proxy saw it. */
  srcAddr: string;
  /** Destination address `ip:port` dialled or tunnelled to. */
  dstAddr: string;
  /** With HBONE, the inner target (`:authority`) when it differs from dstAddr. */
  hboneAddr?: string;
  bytes: ByteCounts;
  /** Final response flag; the labels' own when left out. */
  responseFlags?: ResponseFlag;
  /** Why it ended abnormally (an error message, a MeshError reason); absent on a clean close. */
  error?: string;
  /** Which listener took it: `outbound`, `inbound`, `socks5`, `http-connect`, ... */
  via?: string;
  authz?: { decision: AuthzDecision; policy?: string };
}

export interface ConnectionLogRecord {
  start_time: string;
  duration_ms: number;
  direction: 'outbound' | 'inbound';
  via?: string;
  src: { addr: string; workload?: string; namespace?: string; identity?: string };
  dst: {
    addr: string;
    hbone_addr?: string;
    service?: string;
    workload?: string;
    namespace?: string;
    identity?: string;
  };
  /** Bytes this proxy sent to the far side (outbound: the request; inbound: the response), as ztunnel logs. */
  bytes_sent: number;
  bytes_recv: number;
  connection_security_policy: string;
  response_flags: ResponseFlag;
  authz?: { decision: AuthzDecision; policy?: string };
  error?: string;
}

const known = (s: string): string | undefined => (s === 'unknown' ? undefined : s);

/** Builds the record; identities appear only for mTLS connections (only then were they proven). */
export function connectionLogRecord(input: ConnectionLogInput): ConnectionLogRecord {
  const l = input.labels;
  const mtls = l.connection_security_policy === 'mutual_tls';
  const outbound = l.reporter === 'source';
  const rec: ConnectionLogRecord = {
    start_time: new Date(input.startTime).toISOString(),
    duration_ms: Math.max(0, Math.round(input.endTime - input.startTime)),
    direction: outbound ? 'outbound' : 'inbound',
    via: input.via,
    src: {
      addr: input.srcAddr,
      workload: known(l.source_workload),
      namespace: known(l.source_workload_namespace),
      identity: mtls ? known(l.source_principal) : undefined,
    },
    dst: {
      addr: input.dstAddr,
      hbone_addr: input.hboneAddr,
      service: known(l.destination_service),
      workload: known(l.destination_workload),
      namespace: known(l.destination_workload_namespace),
      identity: mtls ? known(l.destination_principal) : undefined,
    },
    // Metrics count request bytes as "received" whichever side reports; the log is "unflipped"
    // to the proxy's own view, as ztunnel does (istio/istio#32399).
    bytes_sent: outbound ? input.bytes.received : input.bytes.sent,
    bytes_recv: outbound ? input.bytes.sent : input.bytes.received,
    connection_security_policy: l.connection_security_policy,
    response_flags: input.responseFlags ?? l.response_flags,
    authz: input.authz,
    error: input.error,
  };
  return rec;
}

/** One line of JSON (undefined fields dropped), ending in a line feed. */
export function formatConnectionLog(record: ConnectionLogRecord): string {
  return `${JSON.stringify(record)}\n`;
}
