/**
 * A delta ADS client (DeltaAggregatedResources): the node proxy's connection to `weft control`,
 * also used by tests and the control-plane benchmark. It subscribes to type URLs (wildcard or by
 * name), keeps the resources it holds, validates and ACKs or NACKs each response by its nonce, and
 * reconnects with exponential backoff, telling the server what it holds (initial_resource_versions)
 * so that only what changed meanwhile is sent again.
 *
 * Events: 'connected', 'disconnected' (Error), 'update' (XdsUpdate, before the ACK is sent),
 * 'ack' and 'nack' ({ typeUrl, nonce, version, message? }, after the answer is written).
 *
 * This module knows no resource type (the small workload-pb protobuf module only, for the request
 * envelope): resources are decoded by the `decoder` given, if any. The node proxy uses it as it is
 * (it decodes in its own store); delta-client.ts's DeltaXdsClient adds core/xds's decoders of
 * every type Weft serves, which load the Envoy protobuf types.
 */
import { EventEmitter } from 'node:events';
import { Client, Metadata, credentials, status } from '@grpc/grpc-js';
import type { ChannelCredentials, ChannelOptions, ClientDuplexStream } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { encodeDeltaDiscoveryRequest, jsonToStruct } from '../../../core/xds/discovery-codec.ts';
import { readDeltaDiscoveryResponse } from '../../../core/xds/wire-reader.ts';
import type { DeltaResourceView, DeltaResponseView } from '../../../core/xds/wire-reader.ts';
import type { envoy } from '../../../core/xds/pb-workload.ts';
import { DELTA_PATH, asBuffer } from './ads-paths.ts';
import { WEFT_VERSION } from '../version.ts';

export interface DeltaClientOptions {
  /** `host:port` of the control plane (15010 plaintext, 15012 TLS). */
  address: string;
  /** TLS with this root; without it the channel is plaintext. */
  tls?: {
    rootCert: string | Uint8Array;
    /** Expected URI SAN of the server (e.g. spiffe://cluster.local/ns/weft-system/sa/weft-control) instead of a hostname check. */
    serverIdentity?: string;
  };
  /** Sent as `authorization: Bearer <token>` on every stream. */
  token?: string | (() => string);
  node: {
    id: string;
    cluster?: string;
    metadata?: Readonly<Record<string, unknown>>;
    locality?: { region?: string; zone?: string; subZone?: string };
  };
  /** What to watch: every type URL with the names wanted, or no names for a wildcard watch. */
  subscriptions: readonly { typeUrl: string; names?: readonly string[] }[];
  /** Decode resources (DeltaXdsClient: with core/xds codecs; default true); false keeps bytes only (the proxies, benchmarks). */
  decode?: boolean;
  /**
   * Returns an error message to NACK a response; the resources it carried are then not applied.
   * A promise (plugins: the answer waits for their load) delays this response's ACK or NACK; the
   * hook must settle its promises in the order it was called for one type.
   */
  validate?: (update: XdsUpdate) => string | undefined | Promise<string | undefined>;
  backoff?: { initialMs?: number; maxMs?: number };
  channelOptions?: ChannelOptions;
  /**
   * Opens the stream without gRPC (`weft up`: the control plane in the same process, in-memory.ts);
   * `address` and `tls` are then unused. Everything else (ACK/NACK, reconnects) is the same.
   */
  transport?: DeltaTransport;
}

/** The client side of a delta ADS stream: encoded requests out, wire-read responses in. */
export interface DeltaClientStream {
  write(bytes: Uint8Array): boolean;
  cancel(): void;
  /** 'data' (DeltaResponseView), 'error' (Error), 'status' ({ code, details }). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
}
export type DeltaTransport = (metadata: Metadata) => DeltaClientStream;

/**
 * A resource the client holds: name, version, bytes (a view into the response it came in) and, when
 * decoding is on, the decoded message. It is the wire reader's own object: a full push of 10,000
 * resources makes 10,000 of these and their names, nothing more.
 */
export type XdsResourceEntry = DeltaResourceView;

export interface XdsUpdate {
  typeUrl: string;
  systemVersion: string;
  nonce: string;
  /** Added or changed resources. */
  resources: XdsResourceEntry[];
  /** Names the server removed (or that do not exist). */
  removed: string[];
}

export interface AnswerEvent {
  typeUrl: string;
  nonce: string;
  version: string;
  message?: string;
}

interface Watch {
  wildcard: boolean;
  names: Set<string>;
  held: Map<string, XdsResourceEntry>;
  /** The system version of the last ACKed response. */
  version: string;
}

/** Decodes one resource of a type URL; throws on an unknown type or malformed bytes (a NACK). */
export type ResourceDecoder = (typeUrl: string, bytes: Uint8Array) => object;

export class DeltaXdsClientBase extends EventEmitter {
  readonly #opts: DeltaClientOptions;
  readonly #decoder: ResourceDecoder | undefined;
  readonly #watches = new Map<string, Watch>();
  #client?: Client;
  #stream?: DeltaClientStream;
  #timer?: NodeJS.Timeout;
  #delay: number;
  #closed = false;
  #connected = false;

  constructor(opts: DeltaClientOptions, decoder?: ResourceDecoder) {
    super();
    this.#opts = opts;
    this.#decoder = opts.decode === false ? undefined : decoder;
    this.#delay = opts.backoff?.initialMs ?? 100;
    for (const s of opts.subscriptions) {
      this.#watches.set(s.typeUrl, { wildcard: !s.names, names: new Set(s.names ?? []), held: new Map(), version: '' });
    }
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** What the client holds of a type. */
  resources(typeUrl: string): ReadonlyMap<string, XdsResourceEntry> {
    return this.#watches.get(typeUrl)?.held ?? new Map();
  }

  /** The system version last ACKed for a type ('' before the first). */
  version(typeUrl: string): string {
    return this.#watches.get(typeUrl)?.version ?? '';
  }

  start(): this {
    if (!this.#client && !this.#opts.transport) {
      // A full push of a large mesh is one message of several MB; gRPC's default cap is 4 MB.
      const options: ChannelOptions = { 'grpc.max_receive_message_length': -1, ...this.#opts.channelOptions };
      // Verified by SPIFFE id, not by name: give TLS a name so it does not send the address as SNI.
      if (this.#opts.tls?.serverIdentity) options['grpc.ssl_target_name_override'] ??= 'weft-control';
      this.#client = new Client(this.#opts.address, this.#credentials(), options);
    }
    this.#connect();
    return this;
  }

  subscribe(typeUrl: string, names: readonly string[]): void {
    let w = this.#watches.get(typeUrl);
    const isNew = !w;
    if (!w) this.#watches.set(typeUrl, (w = { wildcard: false, names: new Set(), held: new Map(), version: '' }));
    const added = names.filter((n) => !w.names.has(n));
    for (const n of added) w.names.add(n);
    if (isNew) this.#write({ typeUrl, resourceNamesSubscribe: [...w.names] });
    else if (added.length) this.#write({ typeUrl, resourceNamesSubscribe: added });
  }

  unsubscribe(typeUrl: string, names: readonly string[]): void {
    const w = this.#watches.get(typeUrl);
    if (!w) return;
    const gone = names.filter((n) => w.names.delete(n));
    for (const n of gone) w.held.delete(n);
    if (gone.length) this.#write({ typeUrl, resourceNamesUnsubscribe: gone });
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#stream?.cancel();
    this.#stream = undefined;
    this.#client?.close();
    this.#connected = false;
  }

  #credentials(): ChannelCredentials {
    const tls = this.#opts.tls;
    if (!tls) return credentials.createInsecure();
    const expected = tls.serverIdentity;
    return credentials.createSsl(asBuffer(typeof tls.rootCert === 'string' ? new TextEncoder().encode(tls.rootCert) : tls.rootCert), null, null, {
      checkServerIdentity: expected
        ? (_host: string, cert: PeerCertificate) => {
            const sans = (cert.subjectaltname ?? '').split(/,\s*/);
            return sans.includes(`URI:${expected}`) ? undefined : new Error(`server certificate does not name ${expected} (SANs: ${cert.subjectaltname ?? 'none'})`);
          }
        : undefined,
    });
  }

  #connect(): void {
    if (this.#closed || (!this.#client && !this.#opts.transport)) return;
    const md = new Metadata();
    const token = typeof this.#opts.token === 'function' ? this.#opts.token() : this.#opts.token;
    if (token) md.set('authorization', `Bearer ${token}`);
    // A hand reader: one pass, views into the message, no object per Resource (core/xds/wire-reader.ts).
    const stream = this.#opts.transport ? this.#opts.transport(md) : this.#client!.makeBidiStreamRequest(DELTA_PATH, asBuffer, (b: Buffer) => readDeltaDiscoveryResponse(b), md);
    this.#stream = stream;
    let first = true;
    for (const [typeUrl, w] of this.#watches) {
      const initial: Record<string, string> = {};
      for (const [name, e] of w.held) initial[name] = e.version;
      const req: envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties = {
        typeUrl,
        // No names on a type's first request is a wildcard watch; `*` says so next to names.
        resourceNamesSubscribe: w.wildcard ? (w.names.size ? ['*', ...w.names] : []) : [...w.names],
        initialResourceVersions: initial,
      };
      if (first) req.node = this.#node();
      first = false;
      this.#write(req);
    }
    stream.on('data', (res: DeltaResponseView) => {
      if (!this.#connected) {
        this.#connected = true;
        this.#delay = this.#opts.backoff?.initialMs ?? 100;
        this.emit('connected');
      }
      this.#onResponse(res);
    });
    const lost = (err: Error): void => {
      if (this.#stream !== stream) return;
      this.#stream = undefined;
      const was = this.#connected;
      this.#connected = false;
      if (was || !this.#closed) this.emit('disconnected', err);
      this.#retry();
    };
    stream.on('error', (err: Error) => lost(err));
    stream.on('status', (s: { code: number; details: string }) => {
      if (s.code === status.OK) lost(new Error('stream closed by the server'));
    });
  }

  #retry(): void {
    if (this.#closed) return;
    const max = this.#opts.backoff?.maxMs ?? 15_000;
    const wait = this.#delay * (0.8 + Math.random() * 0.4);
    this.#delay = Math.min(max, this.#delay * 2);
    this.#timer = setTimeout(() => this.#connect(), wait);
  }

  #node(): envoy.config.core.v3.Node.$Properties {
    const n = this.#opts.node;
    const node: envoy.config.core.v3.Node.$Properties = { id: n.id, cluster: n.cluster ?? '', userAgentName: 'weft', userAgentVersion: WEFT_VERSION, clientFeatures: [] }; // version: what `weft version` shows per proxy
    if (n.metadata) node.metadata = jsonToStruct(n.metadata);
    if (n.locality) node.locality = n.locality;
    return node;
  }

  #write(req: envoy.service.discovery.v3.DeltaDiscoveryRequest.$Properties): void {
    this.#stream?.write(encodeDeltaDiscoveryRequest(req));
  }

  #onResponse(res: DeltaResponseView): void {
    const typeUrl = res.typeUrl;
    const w = this.#watches.get(typeUrl);
    const update: XdsUpdate = { typeUrl, systemVersion: res.systemVersionInfo, nonce: res.nonce, resources: res.resources, removed: res.removedResources };
    let error: string | undefined;
    if (!w) error = `not subscribed to ${typeUrl}`;
    const decode = this.#decoder;
    for (const r of res.resources) {
      if (error) break;
      if (r.typeUrl !== typeUrl) {
        error = `resource ${r.name}: type ${r.typeUrl || 'none'} on a ${typeUrl} response`;
        break;
      }
      if (decode) {
        try {
          r.resource = decode(typeUrl, r.bytes);
        } catch (err) {
          error = `resource ${r.name}: ${(err as Error).message}`;
        }
      }
    }
    if (!error && w) {
      const v = this.#opts.validate?.(update);
      if (typeof v === 'object') {
        const stream = this.#stream;
        void v.then(
          (e) => this.#stream === stream && this.#answer(res, update, w, e),
          (e: Error) => this.#stream === stream && this.#answer(res, update, w, e.message || String(e)),
        );
        return;
      }
      error = v;
    }
    this.#answer(res, update, w, error);
  }

  #answer(res: DeltaResponseView, update: XdsUpdate, w: Watch | undefined, error: string | undefined): void {
    const typeUrl = update.typeUrl;
    if (error || !w) {
      this.#write({ typeUrl, responseNonce: res.nonce, errorDetail: { code: status.INVALID_ARGUMENT, message: error } });
      this.emit('nack', { typeUrl, nonce: res.nonce, version: res.systemVersionInfo, message: error } satisfies AnswerEvent);
      return;
    }
    for (const e of update.resources) w.held.set(e.name, e);
    for (const name of update.removed) w.held.delete(name);
    w.version = res.systemVersionInfo;
    this.emit('update', update);
    this.#write({ typeUrl, responseNonce: res.nonce });
    this.emit('ack', { typeUrl, nonce: res.nonce, version: res.systemVersionInfo } satisfies AnswerEvent);
  }
}
