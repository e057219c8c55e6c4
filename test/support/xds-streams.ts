/**
 * Raw ADS streams for protocol tests: write requests, await responses one at a time (or assert
 * that none comes), read the final status.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { MeshSnapshot } from '../../core/config/snapshot.ts';
import {
  TYPE_URL,
  decodeResource,
  decodeDeltaDiscoveryResponse,
  decodeDiscoveryResponse,
  encodeDeltaDiscoveryRequest,
  encodeDiscoveryRequest,
} from '../../core/xds/index.ts';
import type { DeltaDiscoveryResponse, DiscoveryResponse } from '../../core/xds/codec.ts';
import type { envoy, istio } from '../../core/xds/pb.ts';
import { DELTA_PATH, SOTW_PATH } from '../../hosts/node/xds/index.ts';

export interface RawStream<Req, Res> {
  send(req: Req): void;
  /** The next response; rejects after `ms`. */
  next(ms?: number): Promise<Res>;
  /** Resolves true when no response arrives within `ms`. */
  quiet(ms?: number): Promise<boolean>;
  /** The stream's final status. */
  readonly status: Promise<grpc.StatusObject>;
  close(): void;
}

function open<Req, Res>(
  address: string,
  path: string,
  encode: (r: Req) => Uint8Array,
  decode: (b: Buffer) => Res,
  metadata = new grpc.Metadata(),
): RawStream<Req, Res> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(path, (r: Req) => Buffer.from(encode(r)), decode, metadata);
  const queue: Res[] = [];
  const waiters: ((r: Res) => void)[] = [];
  call.on('data', (r: Res) => {
    const w = waiters.shift();
    if (w) w(r);
    else queue.push(r);
  });
  call.on('error', () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  const next = (ms = 3000): Promise<Res> => {
    const queued = queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(done), 1);
        reject(new Error(`no response within ${ms} ms`));
      }, ms);
      const done = (r: Res): void => {
        clearTimeout(timer);
        resolve(r);
      };
      waiters.push(done);
    });
  };
  return {
    send: (req) => call.write(req),
    next,
    quiet: async (ms = 300) => {
      try {
        await next(ms);
        return false;
      } catch {
        return true;
      }
    },
    status,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

export type SotwRequest = envoy.service.discovery.v3.DiscoveryRequest.$Properties;
export type DeltaRequest = envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties;

export function openSotw(address: string, metadata?: grpc.Metadata): RawStream<SotwRequest, DiscoveryResponse> {
  return open(address, SOTW_PATH, encodeDiscoveryRequest, (b) => decodeDiscoveryResponse(b), metadata);
}

export function openDelta(address: string, metadata?: grpc.Metadata): RawStream<DeltaRequest, DeltaDiscoveryResponse> {
  return open(address, DELTA_PATH, encodeDeltaDiscoveryRequest, (b) => decodeDeltaDiscoveryResponse(b), metadata);
}

export async function startXdsServer(add: (s: grpc.Server) => void, port = 0): Promise<{ server: grpc.Server; address: string; port: number }> {
  const server = new grpc.Server();
  add(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, address: `127.0.0.1:${bound}`, port: bound };
}

/** The istio.workload.Address in a delta Resource (its Any) or a DeltaXdsClient entry (its bytes). */
export function istioAddress(r: { resource?: unknown; bytes?: Uint8Array }): istio.workload.Address {
  if (r.bytes) return decodeResource(TYPE_URL.address, r.bytes) as istio.workload.Address;
  const any = r.resource as { value?: Uint8Array | null };
  return decodeResource(TYPE_URL.address, any.value ?? new Uint8Array(0)) as istio.workload.Address;
}

/** Retries `check` (which throws until it holds) until it passes or `ms` elapse. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/**
 * Serves `ads` on a fresh port for one describe block, with `initial` pushed before the first test;
 * streams made through `open()` are closed after each test, the server after the block.
 */
export function serveAdsForSuite<S extends { close(): void }>(
  ads: { addTo(server: grpc.Server): void; update(snapshot: MeshSnapshot): void; flush(): void; close(): void },
  initial: () => MeshSnapshot,
  openStream: (address: string) => S,
): { open: () => S } {
  let server: grpc.Server | undefined;
  let address = '';
  const streams: S[] = [];
  beforeAll(async () => {
    ({ server, address } = await startXdsServer((s) => ads.addTo(s)));
    ads.update(initial());
    ads.flush();
  });
  afterEach(() => streams.splice(0).forEach((s) => s.close()));
  afterAll(() => {
    ads.close();
    server?.forceShutdown();
  });
  return {
    open: () => {
      const s = openStream(address);
      streams.push(s);
      return s;
    },
  };
}
