/**
 * Joins two duplex streams both ways with backpressure, half-close and byte counts, for any pair
 * (a client socket and a TCP socket, an HTTP/2 CONNECT stream, ...). stream.pipe() does not
 * propagate errors or closes, and pipeline() tears down both directions on the first end; a TCP
 * proxy needs each direction to end on its own (FIN is forwarded, the other side may still talk).
 *
 * Listeners are shared module functions and the per-stream state sits on the stream itself, so a
 * spliced pair costs two small objects and no closures. Bytes are added to a ByteCounts object
 * (a telemetry meter) per chunk: `received` client->upstream, `sent` upstream->client.
 */
import { constants as h2 } from 'node:http2';
import { Socket, type OnReadOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ByteCounts } from '../../../core/telemetry/tcp-metrics.ts';

/**
 * Bytes a sink may hold before its source is paused (per direction). Pausing at the streams' 16 KiB
 * high-water mark stops reads after every 64 KiB chunk and halves bulk throughput (measured in the
 * L4 bench); 256 KiB keeps memory per connection bounded and the pipe full.
 */
export const BUFFER_LIMIT = 256 * 1024;

/**
 * The same bound when the sink is an HTTP/2 stream (a socket spliced into an HBONE tunnel). A
 * paused source resumes only on the sink's 'drain', which Node emits when its buffer is empty, so
 * every pause is a read stop, an idle moment and a read start (two epoll_ctl calls): at 256 KiB the
 * sending hop made 12k epoll_ctl and 6k writes per GB, at 512 KiB 7k and 3.6k (strace, L4 bulk).
 * Not 1 MiB: fewer syscalls still (3.8k, 2k), but then the copy Node makes of each batch of
 * outgoing frames (StreamBase::Write under the HTTP/2 session's write) ran into fresh pages
 * (memmove 16% of the hop, page faults 9.5%, against 4% and 0.5% at 512 KiB, perf).
 */
export const H2_BUFFER_LIMIT = 512 * 1024;

export interface SpliceEnd {
  received: number;
  sent: number;
  /** The first error seen, if the connection did not end cleanly in both directions. */
  error?: Error;
  /** Which side failed first. */
  side?: 'client' | 'upstream';
}

/** Told once when both streams have closed. An interface, so owners need no closure per connection. */
export interface SpliceOwner {
  onSpliceEnd(end: SpliceEnd): void;
}

const LEG = Symbol('weft.splice');
/** Chunks a pooled-read socket received before splice() took it (a server that speaks first). */
const EARLY = Symbol('weft.splice.early');

class Splice {
  closes = 0;
  error: Error | undefined;
  side: 'client' | 'upstream' | undefined;
  constructor(
    readonly client: Duplex,
    readonly upstream: Duplex,
    readonly counts: ByteCounts,
    readonly owner: SpliceOwner,
  ) {}
}

/** The state one stream carries: its peer (where its data goes) and its direction. */
interface Leg {
  splice: Splice;
  peer: Duplex;
  fromClient: boolean;
  ended: boolean;
  /** An HTTP/2 stream's FIN is held for a second turn (see passEnd). */
  finHeld: boolean;
  /** Set while the peer is corked for the rest of this I/O phase (see onData). */
  corked: boolean;
  /** Bytes the peer may hold before this stream is paused (BUFFER_LIMIT or H2_BUFFER_LIMIT). */
  limit: number;
  uncork: (() => void) | undefined;
}

type Carrier = Duplex & { [LEG]?: Leg; [EARLY]?: Buffer[] };

/**
 * Starts moving bytes. `owner.onSpliceEnd` is called once, after both streams have closed. Bytes
 * already read from the client during a handshake must be written to `upstream` (and counted) first.
 */
export function splice(client: Duplex, upstream: Duplex, counts: ByteCounts, owner: SpliceOwner): void {
  const s = new Splice(client, upstream, counts, owner);
  noDelay(client);
  noDelay(upstream);
  attach(client as Carrier, leg(s, upstream, true));
  attach(upstream as Carrier, leg(s, client, false));
  if (client.destroyed || upstream.destroyed) {
    fail(s, new Error('stream closed before the tunnel started'), client.destroyed ? 'client' : 'upstream');
    // A stream that had already closed emits no 'close' again: count it here.
    if (client.closed) countClose(s);
    if (upstream.closed) countClose(s);
    return;
  }
  flushEarly(client as Carrier);
  flushEarly(upstream as Carrier);
  // A FIN that came during the handshake was already emitted as 'end': pass it on now.
  if (client.readableEnded) onEnd.call(client as Carrier);
  if (upstream.readableEnded) onEnd.call(upstream as Carrier);
  client.resume();
  upstream.resume();
}

/**
 * An HTTP/2 stream hands its data over in pieces of at most 16 KiB (TLS records cut again at DATA
 * frame edges); writing each into a socket costs a syscall. Corking the socket for the rest of the
 * I/O phase sends the pieces of one read in one writev (a third of a hop's CPU in bulk transfers
 * otherwise); the uncork runs in the same loop turn, so no latency is added. One closure per
 * connection, made here, none per chunk.
 */
function leg(s: Splice, peer: Duplex, fromClient: boolean): Leg {
  const l: Leg = { splice: s, peer, fromClient, ended: false, finHeld: false, corked: false, limit: isHttp2Stream(peer) ? H2_BUFFER_LIMIT : BUFFER_LIMIT, uncork: undefined };
  if (isHttp2Stream(fromClient ? s.client : s.upstream) && typeof (peer as Socket).cork === 'function' && !isHttp2Stream(peer)) {
    l.uncork = () => {
      l.corked = false;
      if (!peer.destroyed) (peer as Socket).uncork();
    };
  }
  return l;
}

/**
 * Nagle off on a TCP end: a proxy writes what it has as soon as it has it. Sockets accepted by the
 * in-pod listeners (made in the pod's namespace by the capture helper) come with Nagle on, and a
 * response split across two writes then waits for the client's delayed ACK (up to 40 ms).
 */
function noDelay(stream: Duplex): void {
  if (stream instanceof Socket && !stream.destroyed) stream.setNoDelay(true);
}

/** An HTTP/2 stream (client or server side): the one kind of Duplex with a numeric rstCode. */
function isHttp2Stream(stream: Duplex): boolean {
  return typeof (stream as { rstCode?: unknown }).rstCode === 'number';
}

function attach(stream: Carrier, leg: Leg): void {
  stream[LEG] = leg;
  stream.on('data', onData);
  stream.on('drain', onDrain);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('close', onClose);
}

function onData(this: Carrier, chunk: Buffer): void {
  const leg = this[LEG]!;
  forward(leg, chunk, undefined);
  if (leg.peer.writableLength > leg.limit) this.pause();
}

function forward(leg: Leg, chunk: Buffer, done: ((err?: Error | null) => void) | undefined): void {
  const counts = leg.splice.counts;
  if (leg.fromClient) counts.received += chunk.length;
  else counts.sent += chunk.length;
  if (bulkHook !== undefined && (counts.received > BULK_BYTES || counts.sent > BULK_BYTES)) fireBulkHook();
  if (leg.uncork && !leg.corked) {
    leg.corked = true;
    (leg.peer as Socket).cork();
    setImmediate(leg.uncork);
  }
  leg.peer.write(chunk, done);
}

/**
 * Told once per process, the first time one connection carries more than BULK_BYTES in a direction:
 * the node proxy then switches glibc's malloc to its bulk settings (capture/original-dst.ts
 * tuneMallocForBulk), which cost about 1 MB resident, so a proxy that never moves bulk keeps the
 * leaner defaults. One comparison per chunk until then, none after.
 */
const BULK_BYTES = 4 * 1024 * 1024;
let bulkHook: (() => void) | undefined;

export function onFirstBulkTransfer(hook: (() => void) | undefined): void {
  bulkHook = hook;
}

function fireBulkHook(): void {
  const hook = bulkHook!;
  bulkHook = undefined;
  hook();
}

/**
 * Pooled reads: `net.connect({ ..., onread: POOLED_READS })` for the sockets the proxy dials.
 * A plain socket read allocates a fresh 64 KiB ArrayBuffer per read; at bulk rates that churn of
 * off-heap memory is what drives V8 into repeated full GCs (30 mark-compacts in 768 MB measured
 * on the sending node proxy, about an eighth of its CPU). Here a read lands in a recycled buffer:
 * a 64 KiB one from a small free list after a read of 2 KiB or more (a transfer under way), a
 * 2 KiB slice of Node's shared pool otherwise, so an idle connection holds 2 KiB rather than 64.
 * A big buffer goes back to the free list when the write of its bytes has completed (never on
 * an error: the bytes may still be in flight).
 */
const BIG_READ = 64 * 1024;
const SMALL_READ = 2 * 1024;
const FREE_MAX = 32;
const freeReadBuffers: Buffer[] = [];
/**
 * Node asks for the next buffer right after the read callback, as a plain function (no socket to
 * look at): the callback leaves its hint here and the buffer function takes it.
 */
let nextReadBig = false;

function nextReadBuffer(): Buffer {
  const big = nextReadBig;
  nextReadBig = false;
  return big ? (freeReadBuffers.pop() ?? Buffer.allocUnsafeSlow(BIG_READ)) : Buffer.allocUnsafe(SMALL_READ);
}

function onPooledRead(this: Carrier, n: number, buf: Buffer): boolean {
  const chunk = n === buf.length ? buf : buf.subarray(0, n);
  const leg = this[LEG];
  if (leg === undefined) {
    // not spliced yet: keep the bytes and stop reading until splice() takes the socket
    (this[EARLY] ??= []).push(chunk);
    return false;
  }
  nextReadBig = n >= SMALL_READ;
  forward(leg, chunk, buf.length === BIG_READ ? recycler(buf) : undefined);
  return leg.peer.writableLength <= leg.limit;
}

function recycler(buf: Buffer): (err?: Error | null) => void {
  return (err) => {
    if (!err && freeReadBuffers.length < FREE_MAX) freeReadBuffers.push(buf);
  };
}

export const POOLED_READS = { buffer: nextReadBuffer, callback: onPooledRead } as unknown as OnReadOpts;

function flushEarly(stream: Carrier): void {
  const early = stream[EARLY];
  if (early === undefined) return;
  stream[EARLY] = undefined;
  const leg = stream[LEG]!;
  for (const chunk of early) forward(leg, chunk, undefined);
}

/** This stream can take more: let the stream that writes into it (its peer) flow again. */
function onDrain(this: Carrier): void {
  const peer = this[LEG]!.peer;
  if (!peer.destroyed) peer.resume();
}

/**
 * FIN from this side: pass it on; the other direction keeps going until its own end. An HTTP/2
 * stream that the peer resets (RST_STREAM: a policy change revoking the connection, a failed
 * dial) is reported by Node as 'end' first, its 'aborted'/'error' after: the FIN is held one turn
 * and, if the stream turns out reset, the other side is reset instead (RFC 9113 8.5).
 */
function onEnd(this: Carrier): void {
  const leg = this[LEG]!;
  leg.ended = true;
  if (isHttp2Stream(this)) setImmediate(passEnd, this);
  else if (!leg.peer.destroyed) leg.peer.end();
}

/**
 * The held FIN. Two turns: a peer that resets with Node's `close(code)` sends END_STREAM and then,
 * in a second write, RST_STREAM (Weft's own resets send RST_STREAM alone: resetStream below), so
 * the reset is read one loop iteration after the 'end'.
 */
function passEnd(stream: Carrier): void {
  const leg = stream[LEG]!;
  if (leg.peer.destroyed) return;
  const h = stream as Duplex & { rstCode?: number; aborted?: boolean };
  if (h.aborted || (h.rstCode !== undefined && h.rstCode !== h2.NGHTTP2_NO_ERROR)) {
    fail(leg.splice, new Error(`${leg.fromClient ? 'client' : 'upstream'} reset the stream (code ${h.rstCode ?? '?'})`), leg.fromClient ? 'client' : 'upstream');
  } else if (!leg.finHeld && !stream.destroyed) {
    leg.finHeld = true;
    setImmediate(passEnd, stream);
  } else {
    leg.peer.end();
  }
}

function onError(this: Carrier, err: Error): void {
  const leg = this[LEG]!;
  fail(leg.splice, err, leg.fromClient ? 'client' : 'upstream');
}

function onClose(this: Carrier): void {
  const leg = this[LEG]!;
  const s = leg.splice;
  // A stream that closes before its data ended (reset, aborted stream) takes its peer with it.
  if (!leg.ended && s.error === undefined) {
    fail(s, new Error(leg.fromClient ? 'client closed the connection' : 'upstream closed the connection'), leg.fromClient ? 'client' : 'upstream');
  } else if (!leg.peer.destroyed && s.error !== undefined) {
    leg.peer.destroy();
  }
  countClose(s);
}

function countClose(s: Splice): void {
  if (++s.closes === 2) {
    const end: SpliceEnd = { received: s.counts.received, sent: s.counts.sent };
    if (s.error) {
      end.error = s.error;
      end.side = s.side;
    }
    s.owner.onSpliceEnd(end);
  }
}

/**
 * Tears both sides down, mapping the failure across (RFC 9113 8.5): a reset tunnel resets the TCP
 * connection (RST, not a clean FIN the app would take for a complete answer), and a failed TCP
 * connection resets the tunnel with CONNECT_ERROR.
 */
function fail(s: Splice, err: Error, side: 'client' | 'upstream'): void {
  if (s.error === undefined) {
    s.error = err;
    s.side = side;
  }
  teardown(s.client);
  teardown(s.upstream);
}

function teardown(stream: Duplex): void {
  resetStream(stream);
}

/**
 * Resets a stream: an HBONE stream gets RST_STREAM (CONNECT_ERROR by default, RFC 9113 8.5), a
 * socket a TCP RST, anything else is destroyed. Node's `close(code)` ends the writable side first,
 * which sends END_STREAM and then RST_STREAM in a later write: a peer reads a FIN, and passes it on
 * as one, before it learns of the reset. The stream's `_final` (where Node sends END_STREAM) is
 * made a no-op first, so the reset goes out alone.
 */
export function resetStream(stream: Duplex, code: number = h2.NGHTTP2_CONNECT_ERROR): void {
  if (stream.destroyed) return;
  const h2stream = stream as Duplex & { close?: (code?: number) => void; _final?: (cb: (err?: Error | null) => void) => void };
  if (isHttp2Stream(stream) && typeof h2stream.close === 'function') {
    if (!stream.writableEnded) h2stream._final = skipFinal;
    h2stream.close(code);
  } else if (typeof (stream as Socket).resetAndDestroy === 'function') (stream as Socket).resetAndDestroy();
  else stream.destroy();
}

function skipFinal(cb: (err?: Error | null) => void): void {
  cb();
}

/** splice() for callers that want a promise of the end (tests, the L4 bench) rather than an owner. */
export function splicePair(client: Duplex, upstream: Duplex, counts: ByteCounts = { received: 0, sent: 0 }): Promise<SpliceEnd> {
  return new Promise((resolve) => splice(client, upstream, counts, { onSpliceEnd: resolve }));
}
