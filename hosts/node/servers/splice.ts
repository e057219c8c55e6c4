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
import type { Duplex } from 'node:stream';
import type { ByteCounts } from '../../../core/telemetry/tcp-metrics.ts';

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
}

type Carrier = Duplex & { [LEG]?: Leg };

/**
 * Starts moving bytes. `owner.onSpliceEnd` is called once, after both streams have closed. Bytes
 * already read from the client during a handshake must be written to `upstream` (and counted) first.
 */
export function splice(client: Duplex, upstream: Duplex, counts: ByteCounts, owner: SpliceOwner): void {
  const s = new Splice(client, upstream, counts, owner);
  attach(client as Carrier, { splice: s, peer: upstream, fromClient: true, ended: false });
  attach(upstream as Carrier, { splice: s, peer: client, fromClient: false, ended: false });
  if (client.destroyed || upstream.destroyed) {
    fail(s, new Error('stream closed before the tunnel started'), client.destroyed ? 'client' : 'upstream');
    // A stream that had already closed emits no 'close' again: count it here.
    if (client.closed) countClose(s);
    if (upstream.closed) countClose(s);
    return;
  }
  // A FIN that came during the handshake was already emitted as 'end': pass it on now.
  if (client.readableEnded) onEnd.call(client as Carrier);
  if (upstream.readableEnded) onEnd.call(upstream as Carrier);
  client.resume();
  upstream.resume();
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
  if (leg.fromClient) leg.splice.counts.received += chunk.length;
  else leg.splice.counts.sent += chunk.length;
  if (!leg.peer.write(chunk)) this.pause();
}

/** This stream can take more: let the stream that writes into it (its peer) flow again. */
function onDrain(this: Carrier): void {
  const peer = this[LEG]!.peer;
  if (!peer.destroyed) peer.resume();
}

/** FIN from this side: pass it on; the other direction keeps going until its own end. */
function onEnd(this: Carrier): void {
  const leg = this[LEG]!;
  leg.ended = true;
  if (!leg.peer.destroyed) leg.peer.end();
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

function fail(s: Splice, err: Error, side: 'client' | 'upstream'): void {
  if (s.error === undefined) {
    s.error = err;
    s.side = side;
  }
  s.client.destroy();
  s.upstream.destroy();
}
