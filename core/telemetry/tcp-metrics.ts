/**
 * Istio's four TCP counters (istio_tcp_connections_opened_total, _closed_total,
 * istio_tcp_sent_bytes_total, istio_tcp_received_bytes_total) kept the way ztunnel keeps them:
 * the label set is resolved to its series ONCE, when the connection opens; the data path then only
 * adds to two plain numbers on the connection's meter (no label hashing per chunk). Deltas move
 * into the series when the connection closes and at each scrape (`render()` flushes live meters),
 * so long-lived connections show their bytes while they run.
 *
 * Bytes follow Istio's meaning, whichever side reports: `received` = bytes of the request
 * direction (client to server), `sent` = bytes of the response direction (server to client).
 */
import { familyHeader, formatValue, renderLabels } from './prometheus-text.ts';
import { TCP_LABEL_NAMES, type ResponseFlag, type TcpLabels } from './tcp-labels.ts';

/** What a data path updates per chunk. A meter is one; a host may use a plain object instead. */
export interface ByteCounts {
  /** Bytes from the client towards the server (Istio: received during request). */
  received: number;
  /** Bytes from the server back to the client (Istio: sent during response). */
  sent: number;
}

class Series {
  opened = 0;
  closed = 0;
  sent = 0;
  received = 0;
  /** True once a connection opened on this series: it then shows in all four families. */
  primary = false;
  closedTouched = false;
  /** Sibling series differing only in response_flags, for closes with another flag. */
  byFlag: Map<ResponseFlag, Series> | undefined;
  constructor(
    readonly labels: TcpLabels,
    readonly labelText: string,
  ) {}
}

/** One connection's counts. Add to `received` / `sent` on the data path; `close()` once. */
export class TcpConnectionMeter implements ByteCounts {
  received = 0;
  sent = 0;
  private flushedReceived = 0;
  private flushedSent = 0;
  private done = false;

  /** @internal made by TcpMetrics.open */
  constructor(
    private readonly owner: TcpMetrics,
    private readonly series: Series,
    readonly labels: TcpLabels,
  ) {}

  get closed(): boolean {
    return this.done;
  }

  /** Moves the bytes counted since the last flush into the series. */
  flush(): void {
    const s = this.series;
    s.received += this.received - this.flushedReceived;
    s.sent += this.sent - this.flushedSent;
    this.flushedReceived = this.received;
    this.flushedSent = this.sent;
  }

  /** Flushes and counts the close, under `flag` (default: the flag the connection opened with). Idempotent. */
  close(flag: ResponseFlag = this.labels.response_flags): void {
    if (this.done) return;
    this.done = true;
    this.flush();
    this.owner.closeOn(this, this.series, flag);
  }
}

const FAMILIES = [
  ['istio_tcp_connections_opened_total', 'The total number of TCP connections opened', 'opened'],
  ['istio_tcp_connections_closed_total', 'The total number of TCP connections closed', 'closed'],
  ['istio_tcp_received_bytes_total', 'The size of total bytes received during request in case of a TCP connection', 'received'],
  ['istio_tcp_sent_bytes_total', 'The size of total bytes sent during response in case of a TCP connection', 'sent'],
] as const;

export class TcpMetrics {
  private readonly series = new Map<string, Series>();
  private readonly live = new Set<TcpConnectionMeter>();

  /** Counts an opened connection and returns its meter. Call once per connection. */
  open(labels: TcpLabels): TcpConnectionMeter {
    const series = this.seriesFor(labels);
    series.primary = true;
    series.opened++;
    const meter = new TcpConnectionMeter(this, series, labels);
    this.live.add(meter);
    return meter;
  }

  /** A connection refused before any byte moved (DENY, CONNECT): opened and closed with `flag`. */
  refused(labels: TcpLabels, flag: ResponseFlag): void {
    this.open(labels).close(flag);
  }

  /** Connections opened and not yet closed. */
  get liveConnections(): number {
    return this.live.size;
  }

  /** Moves every live connection's pending bytes into its series (also done by render()). */
  flushLive(): void {
    for (const m of this.live) m.flush();
  }

  /** Prometheus text of the four families. Series are never dropped (counters must not go back). */
  render(): string {
    this.flushLive();
    let out = '';
    for (const [name, help, field] of FAMILIES) {
      out += familyHeader(name, help, 'counter');
      for (const s of this.series.values()) {
        if (field === 'closed' ? !s.closedTouched : !s.primary) continue;
        out += `${name}${s.labelText} ${formatValue(s[field])}\n`;
      }
    }
    return out;
  }

  /** Same as render(), so a TcpMetrics is a metrics source for the stats server as a prom-client Registry is. */
  metrics(): string {
    return this.render();
  }

  /** @internal */
  closeOn(meter: TcpConnectionMeter, series: Series, flag: ResponseFlag): void {
    this.live.delete(meter);
    let target = series;
    if (flag !== series.labels.response_flags) {
      series.byFlag ??= new Map();
      let sibling = series.byFlag.get(flag);
      if (!sibling) {
        sibling = this.seriesFor({ ...series.labels, response_flags: flag });
        series.byFlag.set(flag, sibling);
      }
      target = sibling;
    }
    target.closedTouched = true;
    target.closed++;
  }

  private seriesFor(labels: TcpLabels): Series {
    let key = '';
    for (const name of TCP_LABEL_NAMES) key += `${labels[name]}\u0001`;
    let s = this.series.get(key);
    if (!s) {
      s = new Series({ ...labels }, renderLabels(labels, TCP_LABEL_NAMES));
      this.series.set(key, s);
    }
    return s;
  }
}
