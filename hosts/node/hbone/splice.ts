/**
 * Splicing a tunnel (an HTTP/2 CONNECT stream) to a TCP socket, both ways: backpressure (a side
 * that cannot take more pauses the other), half-close (END_STREAM <-> FIN, each direction on its
 * own), byte counters for `istio_tcp_sent_bytes_total` / `istio_tcp_received_bytes_total` (live, so
 * metrics can read them during long connections), and teardown that maps errors across: a stream
 * reset destroys the socket with a TCP RST, a socket error resets the stream with CONNECT_ERROR
 * (RFC 9113 8.5). Sockets should be made with `allowHalfOpen: true` for half-close to carry.
 *
 * One listener set per connection, none per chunk: chunks are passed through, never copied.
 */
import { constants } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface SpliceCounters {
  /** Bytes from the socket into the tunnel. */
  socketToTunnel: number;
  /** Bytes from the tunnel into the socket. */
  tunnelToSocket: number;
}

export interface SpliceResult extends SpliceCounters {
  /** Undefined when both directions ended cleanly. */
  error?: Error;
  /** Which side failed first. */
  failedSide?: 'socket' | 'tunnel';
}

/** Bytes a sink may hold before its source is paused (per direction, per connection). */
export const BUFFER_LIMIT = 256 * 1024;

type Tunnel = Duplex & { close?(code?: number): void; rstCode?: number };

/** Splices and resolves when both sides are closed. `counters` is updated as bytes flow. */
export function splice(tunnel: Tunnel, socket: Socket, counters: SpliceCounters = { socketToTunnel: 0, tunnelToSocket: 0 }): Promise<SpliceResult> {
  return new Promise<SpliceResult>((resolve) => {
    let error: Error | undefined;
    let failedSide: 'socket' | 'tunnel' | undefined;
    let closed = 0;
    const onClose = (): void => {
      if (++closed < 2) return;
      resolve({ ...counters, ...(error ? { error, failedSide } : {}) });
    };
    const fail = (side: 'socket' | 'tunnel', err: Error): void => {
      if (!error) {
        error = err;
        failedSide = side;
      }
      if (side === 'tunnel') {
        if (!socket.destroyed) socket.resetAndDestroy();
      } else if (!tunnel.destroyed) {
        if (typeof tunnel.close === 'function') tunnel.close(constants.NGHTTP2_CONNECT_ERROR);
        else tunnel.destroy();
      }
    };

    // pause a source only when its sink holds more than BUFFER_LIMIT: pausing at the streams'
    // 16 KiB high-water mark stops the reads after every 64 KiB chunk and halves bulk throughput
    socket.on('data', (chunk: Buffer) => {
      counters.socketToTunnel += chunk.length;
      tunnel.write(chunk);
      if (tunnel.writableLength > BUFFER_LIMIT) socket.pause();
    });
    tunnel.on('drain', () => socket.resume());
    // Node hands a tunnel's data over in pieces of at most 16 KiB (TLS records, cut again at DATA
    // frame edges): cork the socket for the rest of this I/O phase so that the pieces of one read
    // leave in one writev, not one syscall each (a third of the client hop's CPU in bulk transfers,
    // and half the bulk throughput, otherwise). The uncork runs in the same loop turn: no latency.
    let corked = false;
    const uncork = (): void => {
      corked = false;
      if (!socket.destroyed) socket.uncork();
    };
    tunnel.on('data', (chunk: Buffer) => {
      counters.tunnelToSocket += chunk.length;
      if (!corked) {
        corked = true;
        socket.cork();
        setImmediate(uncork);
      }
      socket.write(chunk);
      if (socket.writableLength > BUFFER_LIMIT) tunnel.pause();
    });
    socket.on('drain', () => tunnel.resume());

    socket.on('end', () => tunnel.end());
    tunnel.on('end', () => {
      if (!socket.destroyed) socket.end();
    });

    socket.on('error', (err) => fail('socket', err));
    tunnel.on('error', (err) => fail('tunnel', err));
    // a stream reset by the peer closes without 'end' (RST_STREAM): the socket must not see a clean FIN
    tunnel.on('close', () => {
      if (!tunnel.readableEnded && !error) fail('tunnel', new Error(`tunnel reset${tunnel.rstCode ? ` (RST_STREAM code ${tunnel.rstCode})` : ''}`));
      else if (!socket.destroyed && socket.writableEnded) socket.destroySoon();
      onClose();
    });
    socket.on('close', (hadError) => {
      if (hadError && !error) fail('socket', new Error('socket closed with an error'));
      else if (!tunnel.destroyed && !tunnel.writableEnded) tunnel.end();
      onClose();
    });
  });
}
