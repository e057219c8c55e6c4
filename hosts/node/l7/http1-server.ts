/**
 * The HTTP/1.1 downstream connection loop on a raw socket (any Duplex: a TCP socket, a TLS socket,
 * an HBONE stream): keep-alive, pipelining (one request at a time, responses strictly in order;
 * bytes of later requests wait, bounded), request bodies streamed to the upstream attempt as they
 * arrive (Content-Length or chunked, validated while streaming), `Expect: 100-continue` answered
 * when the body is first wanted, HTTP/1.0, `Connection: close`, upgrades spliced after a 101.
 * Header and idle timeouts are enforced by the owning L7Server's sweep (one timer per server).
 *
 * RFC 9112. A refused head gets its status (400/414/431/501/505) and `Connection: close`; a request
 * whose body was not read to its end closes the connection after its response (its unread bytes
 * must never be taken for a next request).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ByteCounts } from '../../../core/telemetry/tcp-metrics.ts';
import { splice, type SpliceEnd, type SpliceOwner } from '../servers/splice.ts';
import { reasonPhrase } from './exchange.ts';
import type { DownstreamPeer, L7Handler } from './handler.ts';
import { Http1Exchange } from './http1-exchange.ts';
import { HeadError, HeadReader, parseHead, type HeadLimits, type Http1Head } from './http1-parser.ts';

/** Bytes of pipelined requests held behind the one in progress before reading pauses. */
const PIPELINE_LIMIT = 64 * 1024;

/** What a connection needs from its server. */
export interface Http1Host {
  readonly handler: L7Handler;
  readonly limits: HeadLimits;
  /** Coarse clock (ms), advanced by the server's sweep. */
  readonly now: number;
  readonly draining: boolean;
  connectionClosed(conn: Http1Connection): void;
}

export const enum Phase {
  /** Waiting for the first byte of a request (idle timeout applies). */
  Idle,
  /** Part of a head received (header timeout applies). */
  Head,
  /** A request in progress. */
  Busy,
  Upgraded,
  Closed,
}

export class Http1Connection implements SpliceOwner {
  phase = Phase.Idle;
  /** When the current phase began (coarse clock). */
  since: number;
  current: Http1Exchange | undefined = undefined;
  readonly reader: HeadReader;
  #queued: Buffer | undefined = undefined;
  #processing = false;
  #closing = false;
  #clientEnded = false;
  paused = false;
  /** Last read from the client or write to it (coarse clock): the stream idle timeout's base. */
  active: number;
  readonly counts: ByteCounts = { received: 0, sent: 0 };

  constructor(
    readonly host: Http1Host,
    readonly socket: Duplex,
    readonly scheme: 'http' | 'https',
    readonly remoteAddress: string,
    readonly remotePort: number,
    /** What the host said about the peer (L7Server.handleConnection's `remote`). */
    readonly peer?: DownstreamPeer,
  ) {
    this.reader = new HeadReader(true, host.limits);
    this.since = host.now;
    this.active = host.now;
    socket.on('data', this.#onData);
    socket.on('drain', this.#onDrain);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
  }

  /** Starts reading, with bytes already taken from the socket (protocol sniffing) first. */
  start(first: Buffer | undefined): void {
    if (first !== undefined && first.length > 0) this.process(first, 0);
  }

  #onData = (chunk: Buffer): void => {
    this.counts.received += chunk.length;
    this.active = this.host.now;
    this.process(chunk, 0);
  };

  #onDrain = (): void => {
    const ex = this.current;
    if (ex !== undefined && ex.responsePaused) {
      ex.responsePaused = false;
      ex.attempt?.resumeResponse();
    }
  };

  #onEnd = (): void => {
    this.#clientEnded = true;
    if (this.current === undefined && this.phase !== Phase.Upgraded) this.socket.end();
  };

  #onError = (): void => {
    // 'close' follows
  };

  #onClose = (): void => {
    if (this.phase === Phase.Upgraded) return;
    this.phase = Phase.Closed;
    const ex = this.current;
    this.current = undefined;
    if (ex !== undefined) ex.downstreamGone();
    this.host.connectionClosed(this);
  };

  pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  resume(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Parses and dispatches what `buf[off..]` holds; re-entered for held and queued bytes. */
  process(buf: Buffer, off: number): void {
    if (this.#processing) {
      // bytes handed back while the loop runs (a held body released synchronously): queue them
      this.#queue(buf, off);
      return;
    }
    this.#processing = true;
    try {
      while (off < buf.length) {
        const ex = this.current;
        if (ex !== undefined) {
          if (!ex.bodyDone) {
            off = ex.feedBody(buf, off);
            if (off < 0) return;
            continue;
          }
          this.#queue(buf, off);
          return;
        }
        if (this.#closing || this.phase === Phase.Closed || this.phase === Phase.Upgraded) return;
        const end = this.reader.push(buf, off);
        if (end < 0) {
          if (this.phase !== Phase.Head) {
            this.phase = Phase.Head;
            this.since = this.host.now;
          }
          return;
        }
        const hb = this.reader.buffer();
        const head = parseHead(hb, this.reader.start, end, true, this.host.limits);
        buf = hb;
        off = end;
        this.#startExchange(head);
      }
    } catch (err) {
      if (err instanceof HeadError) this.refuse(err.status, err.message);
      else {
        // an engine bug must cost this connection, never the process
        this.refuse(500, 'internal error');
        process.emitWarning(`weft l7: ${(err as Error).stack ?? err}`);
      }
    } finally {
      this.#processing = false;
    }
    this.#drainQueue();
    this.#endIfClientDone();
  }

  #queue(buf: Buffer, off: number): void {
    const rest = off === 0 ? buf : buf.subarray(off);
    this.#queued = this.#queued === undefined ? rest : Buffer.concat([this.#queued, rest]);
    if (this.#queued.length > PIPELINE_LIMIT) this.pause();
  }

  /** Runs queued (pipelined or handed-back) bytes once no request holds the loop. */
  #drainQueue(): void {
    while (this.#queued !== undefined && !this.#processing && this.phase !== Phase.Closed && this.phase !== Phase.Upgraded) {
      const ex = this.current;
      if (ex !== undefined && (ex.bodyDone || ex.bodyHeld)) return;
      const q = this.#queued;
      this.#queued = undefined;
      this.process(q, 0);
    }
  }

  #startExchange(head: Http1Head): void {
    const ex = new Http1Exchange(this, head);
    this.current = ex;
    this.phase = Phase.Busy;
    this.since = this.host.now;
    ex.run();
  }

  /** The exchange finished (response written or the client gone). */
  exchangeDone(ex: Http1Exchange): void {
    if (this.current !== ex) return;
    this.current = undefined;
    if (this.phase === Phase.Upgraded || this.phase === Phase.Closed) return;
    if (!ex.bodyDone || ex.closeAfter || this.host.draining) {
      this.#closing = true;
      this.phase = Phase.Closed;
      this.socket.end();
      return;
    }
    this.phase = Phase.Idle;
    this.since = this.host.now;
    this.resume();
    if (!this.#processing) this.#drainQueue();
    this.#endIfClientDone();
  }

  /** A client that half-closed gets the answers to everything it sent, then our FIN. */
  #endIfClientDone(): void {
    if (this.#clientEnded && this.current === undefined && this.#queued === undefined && !this.#processing && (this.phase === Phase.Idle || this.phase === Phase.Head)) {
      this.#closing = true;
      this.phase = Phase.Closed;
      this.socket.end();
    }
  }

  /** Answers a refused head (or a timeout) and closes. */
  refuse(status: number, message: string): void {
    if (this.#closing || this.socket.destroyed) return;
    this.#closing = true;
    const ex = this.current;
    this.current = undefined;
    if (ex !== undefined) {
      // a body framing error mid-request: if nothing was answered yet, answer; else cut
      if (ex.committed) {
        ex.downstreamGone();
        (this.socket as Socket).resetAndDestroy?.() ?? this.socket.destroy();
        return;
      }
      ex.downstreamGone();
    }
    const body = `${message}\n`;
    this.socket.end(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, 'latin1');
    this.phase = Phase.Closed;
  }

  /** Sweep: header timeout (408) and idle timeout (close). */
  checkTimeouts(now: number, headerTimeoutMs: number, idleTimeoutMs: number, streamIdleTimeoutMs: number): void {
    if (this.phase === Phase.Busy) {
      // a request in progress with no byte either way for too long (Envoy's stream_idle_timeout)
      if (streamIdleTimeoutMs > 0 && now - this.active > streamIdleTimeoutMs) this.#streamIdle();
      return;
    }
    if (this.phase === Phase.Head && now - this.since > headerTimeoutMs) this.refuse(408, 'request header timeout');
    else if (this.phase === Phase.Idle && now - this.since > idleTimeoutMs) {
      this.phase = Phase.Closed;
      this.socket.destroy();
    }
  }

  #streamIdle(): void {
    const ex = this.current;
    if (ex === undefined) return;
    if (ex.committed) {
      this.current = undefined;
      ex.downstreamGone();
      this.phase = Phase.Closed;
      (this.socket as Socket).resetAndDestroy?.() ?? this.socket.destroy();
      return;
    }
    ex.closeAfter = true;
    ex.idleTimeout();
  }

  /** Graceful stop: idle connections close now, busy ones after their response. */
  drain(): void {
    if (this.phase === Phase.Idle || this.phase === Phase.Head) {
      this.phase = Phase.Closed;
      this.socket.end();
    }
  }

  /** Hands the socket over to a splice with the upstream (after a 101). */
  upgrade(upstream: Duplex, upstreamRest: Buffer | undefined): void {
    this.phase = Phase.Upgraded;
    const s = this.socket;
    s.off('data', this.#onData);
    s.off('drain', this.#onDrain);
    s.off('end', this.#onEnd);
    s.off('error', this.#onError);
    s.off('close', this.#onClose);
    if (upstreamRest !== undefined && upstreamRest.length > 0) s.write(upstreamRest);
    const q = this.#queued;
    this.#queued = undefined;
    if (q !== undefined) upstream.write(q);
    this.paused = false;
    splice(s, upstream, this.counts, this);
  }

  onSpliceEnd(_end: SpliceEnd): void {
    this.phase = Phase.Closed;
    this.host.connectionClosed(this);
  }
}

export { Http1Exchange };
