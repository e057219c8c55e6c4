/**
 * One client connection on the SOCKS5 / HTTP CONNECT port, from the first byte to the tunnel:
 * sniff (0x05 = SOCKS5, else HTTP), handshake, ask the owner's onConnect, reply, splice. Listeners
 * are shared module functions; the state object hangs off the socket, so an idle or handshaking
 * connection costs one small object. Every failure ends in a reply the client can read (where the
 * protocol has one) and a close; nothing here throws into the event loop.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectOutcome, EntryHost, EntryRequest, RefuseReason, Tunnel } from './entry-api.ts';
import { httpResponse, parseConnectHead } from './http-connect.ts';
import { parseGreeting, parseRequest, SOCKS_VERSION, socksReply, SocksReply } from './socks5.ts';
import { splice, type SpliceEnd, type SpliceOwner } from './splice.ts';
import { plainAddress as plain, type Target } from './target.ts';

/** Where a connection is; the order matters (`>= Closing` means no more handshaking). */
export const Phase = {
  Sniff: 0,
  SocksGreeting: 1,
  SocksRequest: 2,
  HttpHead: 3,
  Connecting: 4,
  Spliced: 5,
  /** Refused or failed: the reply is flushing; input is read and dropped until the client closes. */
  Closing: 6,
  Closed: 7,
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Bytes a client may send ahead of the reply (optimistic data) before it is paused. */
const EARLY_DATA_MAX = 64 * 1024;

/** After a refusal, how long a client may keep the socket open before it is destroyed. */
const LINGER_MS = 2000;

const SOCKS_CODE: Record<RefuseReason, number> = {
  'not-allowed': SocksReply.notAllowed,
  unreachable: SocksReply.hostUnreachable,
  refused: SocksReply.connectionRefused,
  timeout: SocksReply.ttlExpired,
};
const HTTP_STATUS: Record<RefuseReason, [number, string]> = {
  'not-allowed': [403, 'destination_ip_prohibited'],
  unreachable: [502, 'destination_unavailable'],
  refused: [502, 'connection_refused'],
  timeout: [504, 'connection_timeout'],
};

const CONN = Symbol('weft.entry');
type Carrier = Socket & { [CONN]?: EntryConnection };

export class EntryConnection implements SpliceOwner {
  phase: Phase = Phase.Sniff;
  private buf: Buffer | undefined;
  private abort: AbortController | undefined;
  private tunnel: Tunnel | undefined;
  private protocol: EntryRequest['protocol'] | undefined;

  constructor(
    readonly host: EntryHost,
    readonly socket: Socket,
  ) {}

  /** Starts serving an accepted socket. */
  static accept(host: EntryHost, socket: Socket): EntryConnection {
    const conn = new EntryConnection(host, socket);
    (socket as Carrier)[CONN] = conn;
    socket.setTimeout(host.handshakeTimeoutMs);
    socket.on('data', onHandshakeData);
    socket.on('timeout', onTimeout);
    socket.on('end', onHandshakeEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    return conn;
  }

  /** Runs the handshake as far as the bytes received allow. */
  advance(): void {
    for (;;) {
      const buf = this.buf;
      if (!buf || buf.length === 0) return;
      switch (this.phase) {
        case Phase.Sniff:
          this.phase = buf[0] === SOCKS_VERSION ? Phase.SocksGreeting : Phase.HttpHead;
          continue;
        case Phase.SocksGreeting: {
          const r = parseGreeting(buf);
          if (r.kind === 'need-more') return;
          if (r.kind === 'bad') return this.refuse(r.reason, r.reply);
          this.socket.write(r.reply);
          this.buf = buf.subarray(r.consumed);
          this.phase = Phase.SocksRequest;
          continue;
        }
        case Phase.SocksRequest: {
          const r = parseRequest(buf);
          if (r.kind === 'need-more') return;
          if (r.kind === 'bad') return this.refuse(r.reason, socksReply(r.reply));
          return this.connect(r.target, 'socks5', buf.subarray(r.consumed));
        }
        case Phase.HttpHead: {
          const r = parseConnectHead(buf);
          if (r.kind === 'need-more') return;
          if (r.kind === 'reject') return this.refuse(`HTTP ${r.status}`, httpResponse(r.status, r.message));
          return this.connect(r.target, 'http-connect', buf.subarray(r.consumed));
        }
        default:
          return;
      }
    }
  }

  /** Adds received bytes; returns how many are buffered. */
  append(chunk: Buffer): number {
    this.buf = this.buf && this.buf.length > 0 ? Buffer.concat([this.buf, chunk]) : chunk;
    return this.buf.length;
  }

  /**
   * The handshake is complete: ask for a tunnel. The client keeps being read (its early data is
   * buffered, up to a bound) so that a reset while onConnect runs aborts the dial at once.
   */
  private connect(target: Target, protocol: EntryRequest['protocol'], early: Buffer): void {
    this.phase = Phase.Connecting;
    this.protocol = protocol;
    this.buf = early;
    if (early.length >= EARLY_DATA_MAX) this.socket.pause();
    this.socket.setTimeout(this.host.connectTimeoutMs);
    this.abort = new AbortController();
    const req: EntryRequest = {
      host: target.host,
      port: target.port,
      isName: target.isName,
      sourceAddress: plain(this.socket.remoteAddress),
      sourcePort: this.socket.remotePort ?? 0,
      protocol,
      signal: this.abort.signal,
    };
    void this.settle(req);
  }

  private async settle(req: EntryRequest): Promise<void> {
    let outcome: ConnectOutcome;
    try {
      outcome = await this.host.onConnect(req);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.phase === Phase.Connecting) {
        this.host.log('warn', `${req.protocol} ${req.host}:${req.port}: ${message}`);
        this.refuse(message, this.isHttp(req) ? httpResponse(502, `${message}\n`, 'proxy_internal_error') : socksReply(SocksReply.generalFailure));
      }
      return;
    }
    if ('refuse' in outcome) {
      if (this.phase !== Phase.Connecting) return;
      const [status, proxyStatus] = HTTP_STATUS[outcome.refuse];
      const reply = this.isHttp(req) ? httpResponse(status, `${outcome.message}\n`, proxyStatus) : socksReply(SOCKS_CODE[outcome.refuse]);
      return this.refuse(outcome.message, reply);
    }
    const tunnel: Tunnel = isDuplex(outcome) ? { stream: outcome } : outcome;
    if (this.phase !== Phase.Connecting) {
      // The client left or timed out while we dialled: drop the tunnel and close its telemetry
      // (the meter opened with the dial; without onClose opened/closed counts diverge).
      tunnel.stream.destroy();
      const error = new Error(this.phase === Phase.Closing ? 'connect timeout' : 'client closed the connection');
      try {
        tunnel.onClose?.({ received: 0, sent: 0, error, side: 'client' });
      } catch (err) {
        this.host.log('warn', `tunnel close hook failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      return;
    }
    this.tunnel = tunnel;
    const counts = tunnel.counts ?? { received: 0, sent: 0 };
    const socket = this.socket;
    socket.write(this.isHttp(req) ? httpResponse(200) : socksReply(SocksReply.succeeded));
    socket.setTimeout(0);
    socket.pause(); // no byte may flow between removing our listener and the splice's
    socket.off('data', onHandshakeData);
    socket.off('timeout', onTimeout);
    socket.off('end', onHandshakeEnd);
    this.phase = Phase.Spliced;
    const early = this.buf;
    this.buf = undefined;
    this.abort = undefined;
    if (early && early.length > 0) {
      counts.received += early.length;
      tunnel.stream.write(early);
    }
    splice(socket, tunnel.stream, counts, this);
  }

  onSpliceEnd(end: SpliceEnd): void {
    this.phase = Phase.Closed;
    this.host.untrack(this);
    try {
      this.tunnel?.onClose?.(end);
    } catch (err) {
      this.host.log('warn', `tunnel close hook failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.tunnel = undefined;
  }

  /** Writes a final reply (if any), half-closes, and drops further input until the client closes. */
  refuse(reason: string, reply: Uint8Array | string | undefined): void {
    if (this.phase >= Phase.Closing) return;
    this.phase = Phase.Closing;
    this.buf = undefined;
    this.host.log('debug', `refused ${plain(this.socket.remoteAddress)}:${this.socket.remotePort}: ${reason}`);
    this.socket.setTimeout(LINGER_MS);
    if (reply !== undefined) this.socket.end(reply);
    else this.socket.end();
    this.socket.resume();
  }

  /** Closes whatever the phase (drain, timeout). */
  destroy(): void {
    this.socket.destroy();
  }

  private isHttp(req: EntryRequest): boolean {
    return req.protocol === 'http-connect';
  }

  /** The client went away (or was destroyed) before a tunnel took over its socket. */
  closedEarly(): void {
    if (this.phase === Phase.Spliced || this.phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    this.buf = undefined;
    this.abort?.abort(new Error('client closed the connection'));
    this.abort = undefined;
    this.host.untrack(this);
  }

  timedOut(): void {
    if (this.phase === Phase.Connecting) {
      this.abort?.abort(new Error('connect timeout'));
      // A SOCKS client is told "TTL expired", the closest RFC 1928 code to a timeout.
      this.refuse('connect timeout', this.protocol === 'socks5' ? socksReply(SocksReply.ttlExpired) : httpResponse(504, 'connect timeout\n', 'connection_timeout'));
    } else if (this.phase === Phase.HttpHead) {
      this.refuse('handshake timeout', httpResponse(408, 'request head not received in time\n'));
    } else {
      this.socket.destroy();
    }
  }
}

function isDuplex(x: object): x is Duplex {
  return typeof (x as Duplex).pipe === 'function' && typeof (x as Duplex).write === 'function';
}

function onHandshakeData(this: Carrier, chunk: Buffer): void {
  const conn = this[CONN]!;
  if (conn.phase === Phase.Connecting) {
    if (conn.append(chunk) >= EARLY_DATA_MAX) this.pause();
    return;
  }
  if (conn.phase > Phase.Connecting) return; // Closing: input after a refusal is dropped
  conn.append(chunk);
  conn.advance();
}

/**
 * FIN before the handshake completed: the client gave up, close now. While connecting it is a
 * half-close (the splice passes it on); after a refusal the socket closes once our reply is flushed.
 */
function onHandshakeEnd(this: Carrier): void {
  if (this[CONN]!.phase < Phase.Connecting) this.destroy();
}

function onTimeout(this: Carrier): void {
  this[CONN]!.timedOut();
}

function onSocketError(this: Carrier): void {
  this.destroy(); // 'close' follows; the splice (when there is one) has its own error listener
}

function onSocketClose(this: Carrier): void {
  this[CONN]!.closedEarly();
}
