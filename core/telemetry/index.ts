/**
 * core/telemetry: Istio's metric names and label sets, the per-connection TCP counters with their
 * Prometheus exposition, and the JSON access log record. Runtime-neutral; hosts do the I/O.
 */
export {
  TCP_LABEL_NAMES,
  tcpLabels,
  type PeerInfo,
  type Reporter,
  type ResponseFlag,
  type SecurityPolicy,
  type ServiceInfo,
  type TcpLabelInput,
  type TcpLabels,
} from './tcp-labels.ts';
export { TcpConnectionMeter, TcpMetrics, type ByteCounts } from './tcp-metrics.ts';
export { DEFAULT_BUCKETS, HTTP_LABEL_NAMES, HttpMetrics, RequestSeriesGroup, type HttpLabels, type RequestOutcome } from './http-metrics.ts';
export {
  PROMETHEUS_CONTENT_TYPE,
  escapeLabelValue,
  familyHeader,
  formatValue,
  renderLabels,
} from './prometheus-text.ts';
export {
  connectionLogRecord,
  formatConnectionLog,
  type AuthzDecision,
  type ConnectionLogInput,
  type ConnectionLogRecord,
} from './access-log.ts';
export {
  FLAG_SAMPLED,
  PooledTraceIds,
  childContext,
  continueOrStart,
  formatTraceparent,
  isSampled,
  parseTraceparent,
  startContext,
  toHex,
  type SpanContext,
  type TraceIds,
} from './trace-context.ts';
export { SpanKind, StatusCode, httpSpanToOtlp, traceExportRequest, unixNanoString, type ExportTraceServiceRequest, type HttpSpan, type OtlpSpan } from './otlp-json.ts';
