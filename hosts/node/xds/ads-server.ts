/**
 * Weft's ADS server: one translation per mesh snapshot (core/xds), shared by every connected
 * stream, pushed after a debounce; state of the world and delta on the same service. Streams are
 * authenticated when they open (`authenticate`, e.g. a join token on 15012) and may be refused
 * once their node is known (`admitNode`, e.g. a node name that differs from the token's).
 * One AdsServer can serve several gRPC servers (15010 and 15012), each with its own checks, so a
 * snapshot is translated once for all of them.
 */
import { status } from '@grpc/grpc-js';
import type { Server, ServerDuplexStream, ServiceError, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { MeshSnapshot } from '../../../core/config/snapshot.ts';
import { XdsTranslator } from '../../../core/xds/index.ts';
import { l7ProxyOf } from '../../../core/xds/l7/index.ts';
import type { NodeInfo, XdsResources } from '../../../core/xds/index.ts';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../../../core/xds/codec.ts';
import type { ControlMetrics } from '../control/metrics.ts';
import { adsServiceDefinition } from './ads-service.ts';
import type { AdsConnection, ConnectionHost, SynczEntry, XdsCaller } from './connection.ts';
import { DeltaConnection } from './delta-connection.ts';
import { ProxyViews } from './proxy-views.ts';
import { SotwConnection } from './sotw-connection.ts';

export type Authenticate = (call: ServerDuplexStream<unknown, unknown>) => XdsCaller | Error | Promise<XdsCaller | Error>;
export type AdmitNode = (node: NodeInfo, caller: XdsCaller | undefined) => Error | undefined;

/** The checks of one listener (e.g. none on 15010, a join token on 15012). */
export interface AdsAccess {
  /** Decides who may open a stream; an Error refuses it with UNAUTHENTICATED. Absent: anyone. */
  authenticate?: Authenticate;
  /** Checks a stream's node against its caller on the first request; an Error refuses it with PERMISSION_DENIED. */
  admitNode?: AdmitNode;
  /**
   * Whether gateways on this listener receive Secrets (TLS keys). Default: only where streams are
   * authenticated (15012); never on the plaintext 15010 (design.md 1).
   */
  secrets?: boolean;
}

export interface AdsServerOptions extends AdsAccess {
  metrics?: ControlMetrics;
  /** Quiet time after the last snapshot before a push (istiod's PILOT_DEBOUNCE_AFTER). */
  debounceMs?: number;
  /** Longest a push waits while snapshots keep arriving (istiod's PILOT_DEBOUNCE_MAX). */
  debounceMaxMs?: number;
  /** Root namespace for mesh-wide AuthorizationPolicies (default istio-system). */
  rootNamespace?: string;
  /** Push notification, for logs and benchmarks. */
  onPush?: (info: { version: string; streams: number; translateMs: number; totalMs: number }) => void;
}

export class AdsServer {
  readonly #opts: AdsServerOptions;
  readonly #translator: XdsTranslator;
  readonly #connections = new Set<AdsConnection>();
  #current?: XdsResources;
  #pending?: MeshSnapshot;
  #pendingSince = 0;
  #lastUpdate = 0;
  #timer?: NodeJS.Timeout;
  #seq = 0;
  #closed = false;

  constructor(opts: AdsServerOptions = {}) {
    this.#opts = opts;
    this.#translator = new XdsTranslator(opts.rootNamespace ? { rootNamespace: opts.rootNamespace } : {});
  }

  /**
   * Registers the ADS service on a grpc-js server (the caller binds and starts it). `access`
   * replaces the constructor's authenticate/admitNode for this server's streams.
   */
  addTo(server: Server, access?: AdsAccess): void {
    const checks: AdsAccess = access ?? { authenticate: this.#opts.authenticate, admitNode: this.#opts.admitNode };
    const impl: UntypedServiceImplementation = {
      StreamAggregatedResources: (call: ServerDuplexStream<DiscoveryRequest, Uint8Array>) => void this.#open(call, 'sotw', checks),
      DeltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, Uint8Array>) => void this.#open(call, 'delta', checks),
    };
    server.addService(adsServiceDefinition, impl);
  }

  /**
   * Serves one delta stream that came some other way than a gRPC server (`weft up`'s in-process
   * proxies, in-memory.ts), with a listener's checks: the same connection, views, ACKs and syncz.
   */
  acceptDelta(call: ServerDuplexStream<DeltaDiscoveryRequest, Uint8Array>, access: AdsAccess): void {
    void this.#open(call, 'delta', access);
  }

  /** A new snapshot: translated and pushed once the debounce settles. */
  update(snapshot: MeshSnapshot): void {
    if (this.#closed) return;
    const now = performance.now();
    if (!this.#pending) this.#pendingSince = now;
    this.#pending = snapshot;
    this.#lastUpdate = now;
    this.#schedule();
  }

  /** Pushes a pending snapshot now, without waiting for the debounce. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const snapshot = this.#pending;
    if (!snapshot) return;
    this.#pending = undefined;
    const started = this.#pendingSince;
    const t0 = performance.now();
    const res = this.#translator.translate(snapshot);
    const translateMs = performance.now() - t0;
    this.#current = res;
    for (const conn of this.#connections) {
      try {
        conn.push(this.#viewFor(conn, res, conn.secrets));
      } catch (err) {
        conn.call.emit('error', grpcError(status.INTERNAL, `push failed: ${(err as Error).message}`));
      }
    }
    const totalMs = performance.now() - started;
    this.#opts.metrics?.pushTime.observe(totalMs / 1000);
    this.#opts.onPush?.({ version: res.version, streams: this.#connections.size, translateMs, totalMs });
  }

  /** The latest translation (for /debug and the REST xDS endpoints). */
  get resources(): XdsResources | undefined {
    return this.#current;
  }

  /** Every connected proxy: who it is, what it watches, what it was sent, ACKed and NACKed. */
  syncz(): SynczEntry[] {
    return [...this.#connections].filter((c) => c.node).map((c) => c.syncz());
  }

  /** Ends every stream (UNAVAILABLE, so clients reconnect elsewhere) and stops pushing. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const conn of [...this.#connections]) conn.call.emit('error', grpcError(status.UNAVAILABLE, 'control plane shutting down'));
    this.#connections.clear();
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    const debounce = this.#opts.debounceMs ?? 100;
    const max = this.#opts.debounceMaxMs ?? Math.max(1000, debounce * 10);
    const now = performance.now();
    const wait = Math.max(0, Math.min(this.#lastUpdate + debounce, this.#pendingSince + max) - now);
    this.#timer = setTimeout(() => this.flush(), wait);
  }

  async #open(call: ServerDuplexStream<DiscoveryRequest | DeltaDiscoveryRequest, Uint8Array>, protocol: 'sotw' | 'delta', checks: AdsAccess): Promise<void> {
    let caller: XdsCaller | undefined;
    // Requests that arrive while authentication runs are kept, in order.
    const early: (DiscoveryRequest | DeltaDiscoveryRequest)[] = [];
    const buffer = (req: DiscoveryRequest | DeltaDiscoveryRequest): void => void early.push(req);
    call.on('data', buffer);
    call.on('error', () => {}); // a client reset is not ours to report
    if (checks.authenticate) {
      let who: XdsCaller | Error;
      try {
        who = await checks.authenticate(call as ServerDuplexStream<unknown, unknown>);
      } catch (err) {
        who = err instanceof Error ? err : new Error(String(err));
      }
      if (who instanceof Error) {
        call.off('data', buffer);
        call.emit('error', grpcError(status.UNAUTHENTICATED, who.message));
        return;
      }
      caller = who;
    }
    if (call.cancelled) return;
    if (this.#closed) {
      call.emit('error', grpcError(status.UNAVAILABLE, 'control plane shutting down'));
      return;
    }
    const secrets = checks.secrets ?? checks.authenticate !== undefined;
    let conn: AdsConnection | undefined;
    const host: ConnectionHost = {
      metrics: this.#opts.metrics,
      current: () => (this.#current && conn ? this.#viewFor(conn, this.#current, secrets) : this.#current),
      admit: (c) => this.#admit(c, checks.admitNode),
      shared: (res, typeUrl, key, make) => this.#shared(res, typeUrl, key, make),
    };
    const id = `${protocol}-${++this.#seq}`;
    conn = protocol === 'sotw' ? new SotwConnection(id, call, host, caller) : new DeltaConnection(id, call, host, caller);
    conn.secrets = secrets;
    this.#connections.add(conn);
    const onRequest = (req: DiscoveryRequest | DeltaDiscoveryRequest): void => {
      if (!this.#connections.has(conn)) return;
      try {
        if (conn instanceof SotwConnection) conn.onRequest(req as DiscoveryRequest);
        else (conn as DeltaConnection).onRequest(req as DeltaDiscoveryRequest);
      } catch (err) {
        call.emit('error', grpcError(status.INTERNAL, `bad request: ${(err as Error).message}`));
      }
    };
    let done = false;
    const opened = conn;
    const end = (): void => {
      if (done) return;
      done = true;
      this.#drop(opened);
    };
    call.on('end', () => {
      end();
      call.end();
    });
    call.on('close', end);
    call.on('cancelled', end);
    call.on('error', end);
    call.off('data', buffer);
    call.on('data', onRequest);
    for (const req of early) onRequest(req);
  }

  /** Responses shared by streams, for the latest translation only (3 MB for a full push of 10,000 workloads). */
  #sharedFor?: XdsResources;
  readonly #sharedFrames = new Map<string, unknown>();

  #shared<T>(res: XdsResources, typeUrl: string, key: string, make: () => T): T {
    // Per-proxy views of one translation share its id; their scoped types are framed per scope (a
    // node proxy's view scopes only its plugins: its workload API responses stay shared by all).
    if (res.id !== this.#sharedFor?.id) {
      this.#sharedFrames.clear();
      this.#sharedFor = res;
    }
    const only = this.#views.scopedTypes(res);
    const k = res.scopeKey !== undefined && (!only || only.has(typeUrl)) ? `${key}\0${res.scopeKey}` : key;
    if (!this.#sharedFrames.has(k)) this.#sharedFrames.set(k, make());
    return this.#sharedFrames.get(k) as T;
  }

  /** Per-proxy views of the latest translation (proxy-views.ts), shared with REST-JSON xDS. */
  readonly #views = new ProxyViews();

  /** What one stream receives (proxy-views.ts); the connection keeps its L7 role once known. */
  #viewFor(conn: AdsConnection, res: XdsResources, secrets: boolean): XdsResources {
    if (!conn.node) return res;
    conn.l7Proxy ??= l7ProxyOf(conn.node) ?? null;
    return this.#views.viewFor(res, { node: conn.node, caller: conn.caller, l7Proxy: conn.l7Proxy }, secrets);
  }

  /**
   * What a proxy that is not a stream receives of the latest translation (REST-JSON xDS for the edge
   * host): the same view an ADS stream with this node and caller gets. Undefined before the first translation.
   */
  viewFor(node: NodeInfo, caller: XdsCaller | undefined, secrets: boolean): XdsResources | undefined {
    const res = this.#current;
    return res && this.#views.viewFor(res, { node, caller, l7Proxy: l7ProxyOf(node) ?? null }, secrets);
  }

  #admit(conn: AdsConnection, admitNode: AdmitNode | undefined): Error | undefined {
    const refusal = admitNode?.(conn.node!, conn.caller);
    if (refusal) {
      this.#connections.delete(conn);
      return grpcError(status.PERMISSION_DENIED, refusal.message);
    }
    this.#opts.metrics?.connectedProxies.inc({ version: proxyVersion(conn.node!), proxy_type: conn.proxyType });
    conn.counted = true;
    return undefined;
  }

  #drop(conn: AdsConnection): void {
    if (!this.#connections.delete(conn)) return;
    if (conn.counted) {
      this.#opts.metrics?.connectedProxies.dec({ version: proxyVersion(conn.node!), proxy_type: conn.proxyType });
    }
  }
}

function proxyVersion(node: NodeInfo): string {
  const v = node.metadata['ISTIO_VERSION'];
  return typeof v === 'string' ? v : node.userAgent.split('/')[1] ?? '';
}

function grpcError(code: status, details: string): Error & Pick<ServiceError, 'code' | 'details'> {
  return Object.assign(new Error(details), { code, details });
}
