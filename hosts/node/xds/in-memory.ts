/**
 * A delta ADS stream inside one process (`weft up`): the client's encoded requests reach the
 * AdsServer decoded, as from grpc-js, and the server's framed responses reach the client through the
 * same wire reader, so the connection, its views, ACK/NACK and syncz are the ones a remote proxy
 * gets; only gRPC, HTTP/2 and TLS are left out. Messages are handed over in a microtask, keeping the
 * order and the asynchrony of a real stream (a handler never re-enters the other side).
 */
import { EventEmitter } from 'node:events';
import { Metadata, status, type ServerDuplexStream } from '@grpc/grpc-js';
import { decodeDeltaDiscoveryRequest, type DeltaDiscoveryRequest } from '../../../core/xds/codec.ts';
import { readDeltaDiscoveryResponse } from '../../../core/xds/wire-reader.ts';
import type { DeltaClientStream } from './delta-client-base.ts';

/** The server's half: what AdsServer uses of a grpc-js ServerDuplexStream. */
class ServerSide extends EventEmitter {
  cancelled = false;
  ended = false;
  constructor(
    readonly metadata: Metadata,
    private readonly client: ClientSide,
  ) {
    super();
  }

  getPeer(): string {
    return 'in-process';
  }

  write(bytes: Uint8Array): boolean {
    if (!this.ended) queueMicrotask(() => this.client.deliver(bytes));
    return true;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    queueMicrotask(() => this.client.finish({ code: status.OK, details: '' }));
  }

  /** grpc-js servers end a stream with a status by emitting 'error' on it: the client gets it as one. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'error' && !this.ended) {
      this.ended = true;
      const err = args[0] as Error & { code?: number };
      queueMicrotask(() => this.client.fail(err));
    }
    return super.emit(event, ...args);
  }
}

class ClientSide extends EventEmitter implements DeltaClientStream {
  server!: ServerSide;
  #done = false;

  write(bytes: Uint8Array): boolean {
    if (this.#done) return false;
    const req = decodeDeltaDiscoveryRequest(bytes);
    queueMicrotask(() => {
      if (!this.server.ended && !this.server.cancelled) this.server.emit('data', req);
    });
    return true;
  }

  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    this.server.cancelled = true;
    queueMicrotask(() => {
      this.server.emit('cancelled');
      this.server.emit('close');
    });
  }

  deliver(bytes: Uint8Array): void {
    if (!this.#done) this.emit('data', readDeltaDiscoveryResponse(bytes));
  }

  finish(s: { code: number; details: string }): void {
    if (this.#done) return;
    this.#done = true;
    this.emit('status', s);
    this.server.emit('close');
  }

  fail(err: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.emit('error', err);
    this.server.emit('close');
  }
}

/** A connected pair: give `server` to AdsServer.acceptDelta and `client` to the delta client (its `transport`). */
export function inMemoryDeltaStream(metadata: Metadata = new Metadata()): {
  client: DeltaClientStream;
  server: ServerDuplexStream<DeltaDiscoveryRequest, Uint8Array>;
} {
  const client = new ClientSide();
  const server = new ServerSide(metadata, client);
  client.server = server;
  return { client, server: server as unknown as ServerDuplexStream<DeltaDiscoveryRequest, Uint8Array> };
}
