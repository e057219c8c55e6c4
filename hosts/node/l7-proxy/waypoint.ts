/**
 * The waypoint's inbound side (design.md 3, core/route/README.md "Waypoint"): an HboneServer on
 * `<listen>:15008` presenting the waypoint's own certificate (ns/NS/sa/NAME), verifying the peer (the
 * source node proxy, presenting the client workload's identity), and each CONNECT stream handed to
 * the L7 engine for the listener whose address is the CONNECT `:authority` (service VIP:port ->
 * Listener `<hostname>:<port>` -> route configuration `<hostname>:<port>`).
 *
 * Who the downstream is (its SPIFFE id, the client address in `forwarded: for=`, its workload from
 * `baggage`, the VIP it sent to) is per stream: it goes to the engine with the stream
 * (`handleConnection(stream, peer)`), so every request view carries it (`peerPrincipal`,
 * `remoteAddress`, `localAddress`, `peer.workload`). One engine server + RouteHandler serves each
 * route configuration: the L7 authorization filters match `principals` against the peer, and the
 * handler reports Istio's waypoint metrics with the peer as the source (reporter="waypoint",
 * source_principal = the peer's SPIFFE id, source_workload from baggage). Upstream pools are per
 * client address, the one thing that must differ: their HBONE CONNECTs carry
 * `forwarded: for="<client ip>"`, so the destination node proxy sees the original client's address
 * (its L4 policy sees the waypoint's identity, as in Istio). A client's pools are closed after a
 * minute without streams.
 *
 * A workload-addressed stream (pod IP:port) that no listener claims is passed on at L4: an HBONE
 * stream to that workload (its identity from the clusters' endpoints) or plain TCP when the mesh
 * knows it as tunnel NONE; an address the mesh does not know is refused (404).
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { inboundSource, parseBaggage } from '../../../core/node/hbone-headers.ts';
import type { CompiledListener, FilterChain } from '../../../core/route/listener-chains.ts';
import type { UpstreamCluster, UpstreamEndpoint } from '../../../core/route/index.ts';
import type { HttpMetrics } from '../../../core/telemetry/index.ts';
import type { CertificateManager, RotationEvent } from '../certs/index.ts';
import { HboneServer, type HboneClient, type InboundTunnel } from '../hbone/index.ts';
import { L7Server, type DownstreamPeer, type RequestHeadView, type Upstream } from '../l7/index.ts';
import { splice } from '../servers/index.ts';
import { RouteHandler, type Routing } from './route-handler.ts';
import type { PluginSet } from '../../../core/plugin/contract.ts';
import type { Tracing } from './tracing.ts';
import { UpstreamPools, type PoolSource } from './upstreams.ts';

export const WAYPOINT_HBONE_PORT = 15008;
/** A client with no open stream for this long has its upstream pools closed. */
const IDLE_MS = 60_000;

export interface WaypointInboundOptions {
  /** Bind address of the HBONE listener. */
  listen: string;
  /** Default 15008 (peers rely on it; tests may use 0). */
  port?: number;
  /** The waypoint's SPIFFE id (its certificate is presented and used upstream). */
  identity: string;
  namespace: string;
  name: string;
  trustDomains: readonly string[];
  certificates: CertificateManager;
  hbone: HboneClient;
  metrics: HttpMetrics;
  routing: () => Routing;
  accessLog?: (line: string) => void;
  /** traceparent propagation and span export (tracing.ts). */
  tracing?: Tracing;
  /** The plugins in force (plugin-host.ts), read by each request. */
  plugins?: () => PluginSet | undefined;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

interface Target {
  listener: CompiledListener;
  chain: FilterChain;
}

/** One route configuration's engine server. */
interface RouteServer {
  server: L7Server;
}

/** One downstream client address: the upstream pools whose CONNECTs say `forwarded: for=<it>`. */
interface ClientPools {
  pools: UpstreamPools;
  active: number;
  idleSince: number;
}

export interface WaypointStatus {
  listening: boolean;
  address?: string;
  error?: string;
  /** `<vip>:<port>` -> listener name. */
  targets: Record<string, string>;
  /** Engine servers (one per route configuration in use). */
  servers: number;
  /** Client addresses with upstream pools. */
  downstreams: number;
  tunnels: { accepted: number; l7: number; l4: number; refused: number };
}

export class WaypointInbound implements PoolSource {
  readonly server: HboneServer;
  readonly counts = { accepted: 0, l7: 0, l4: 0, refused: 0 };
  #targets = new Map<string, Target>();
  #clusters: readonly UpstreamCluster[] = [];
  readonly #servers = new Map<string, RouteServer>();
  readonly #clients = new Map<string, ClientPools>();
  #sweep?: NodeJS.Timeout;
  #listening = false;
  #address?: string;
  #error?: string;
  readonly #baggage: string;

  constructor(private readonly o: WaypointInboundOptions) {
    this.server = new HboneServer({
      certificate: () => o.certificates.get(o.identity),
      trustDomains: o.trustDomains,
      onTunnel: (t) => this.#onTunnel(t),
    });
    this.server.on('refused', (e: { reason: string; message: string; remoteAddress?: string }) => o.log('debug', `waypoint HBONE refused ${e.remoteAddress ?? ''}: ${e.reason}: ${e.message}`));
    o.certificates.on('rotated', (e: RotationEvent) => {
      if (e.identity === o.identity && e.previous) this.server.retire(e.previous);
    });
    // what the destination node proxy reads of the waypoint (ztunnel's baggage keys)
    this.#baggage = `k8s.namespace.name=${o.namespace},k8s.deployment.name=${o.name},service.name=${o.name},service.version=latest`;
  }

  async start(): Promise<void> {
    const port = this.o.port ?? WAYPOINT_HBONE_PORT;
    try {
      const a = await this.server.listen(port, this.o.listen);
      this.#listening = true;
      this.#address = `${this.o.listen}:${a.port}`;
      this.o.log('info', `waypoint HBONE on ${this.#address}`);
    } catch (e) {
      this.#error = (e as Error).message;
      this.o.log('error', `waypoint: cannot listen on ${this.o.listen}:${port}: ${this.#error}`);
      throw e;
    }
    this.#sweep = setInterval(() => this.#closeIdle(Date.now()), 10_000);
    this.#sweep.unref();
  }

  get port(): number {
    return Number(this.#address?.split(':').pop() ?? 0);
  }

  ready(): true | string {
    return this.#listening ? true : `HBONE listener not bound${this.#error ? `: ${this.#error}` : ''}`;
  }

  /** A new config: the listeners (by VIP:port, never bound) and the clusters (pools of gone endpoints close). */
  configure(listeners: readonly { compiled: CompiledListener; additionalAddresses: readonly string[] }[], clusters: Iterable<UpstreamCluster>): void {
    const targets = new Map<string, Target>();
    for (const { compiled: l, additionalAddresses } of listeners) {
      const chain = l.chains[0];
      if (!chain) continue;
      for (const a of [l.address, ...additionalAddresses]) targets.set(authorityKey(a, l.port), { listener: l, chain });
    }
    this.#targets = targets;
    this.#clusters = [...clusters];
    for (const c of this.#clients.values()) c.pools.retain(this.#clusters);
    // servers of route configurations no listener names any more: requests in flight finish
    const names = new Set<string>();
    for (const t of targets.values()) names.add(t.chain.hcm.routeConfigName);
    for (const [name, r] of this.#servers) {
      if (names.has(name)) continue;
      this.#servers.delete(name);
      void r.server.close(5000);
    }
  }

  status(): WaypointStatus {
    const targets: Record<string, string> = {};
    for (const [k, t] of this.#targets) targets[k] = t.listener.name;
    return {
      listening: this.#listening,
      ...(this.#address ? { address: this.#address } : {}),
      ...(this.#error ? { error: this.#error } : {}),
      targets,
      servers: this.#servers.size,
      downstreams: this.#clients.size,
      tunnels: { ...this.counts },
    };
  }

  #onTunnel(t: InboundTunnel): void {
    this.counts.accepted++;
    if (t.target.kind !== 'ip') {
      this.counts.refused++;
      return t.refuse(400, `waypoint ${this.o.namespace}/${this.o.name} takes CONNECTs to an address (service VIP:port), not ${t.authority}`);
    }
    const target = this.#targets.get(authorityKey(t.target.ip, t.target.port));
    if (target) return this.#l7(t, target);
    void this.#l4(t).catch((e: Error) => {
      this.counts.refused++;
      t.refuse(503, e.message);
    });
  }

  #l7(t: InboundTunnel, target: Target): void {
    this.counts.l7++;
    const src = inboundSource(t.headers.forwarded, t.remoteAddress, t.remotePort);
    const baggage = parseBaggage(t.headers.baggage);
    const peer: DownstreamPeer = {
      address: src.ip,
      port: src.port,
      peerPrincipal: t.peerIdentity,
      localAddress: t.target.kind === 'ip' ? t.target.ip : undefined,
      workload: workloadOf(baggage),
      namespace: baggage['k8s.namespace.name'] ?? /\/ns\/([^/]+)\//.exec(t.peerIdentity)?.[1] ?? '',
    };
    const server = this.#serverFor(target);
    const client = this.#client(src.ip);
    const stream = t.accept();
    client.active++;
    stream.once('close', () => {
      if (--client.active === 0) client.idleSince = Date.now();
    });
    server.handleConnection(stream, peer);
  }

  /** The engine server of the target's route configuration (made on first use). */
  #serverFor(target: Target): L7Server {
    const chain = target.chain;
    const routeConfigName = chain.hcm.routeConfigName;
    const existing = this.#servers.get(routeConfigName);
    if (existing !== undefined) return existing.server;
    const o = this.o;
    const handler = new RouteHandler({
      routeConfigName,
      port: target.listener.port,
      routing: o.routing,
      pools: this,
      metrics: o.metrics,
      ...(o.tracing ? { tracing: o.tracing } : {}),
      ...(o.plugins ? { plugins: o.plugins } : {}),
      log: o.log,
      // reporter="waypoint": the request's peer is the metrics' source (route-handler.ts)
      self: { reporter: 'waypoint', workload: o.name, namespace: o.namespace, principal: o.identity },
      ...(o.accessLog ? { accessLog: o.accessLog } : {}),
    });
    const hcm = chain.hcm;
    const server = new L7Server(handler, {
      ...(hcm.requestHeadersTimeoutMs ? { headerTimeoutMs: hcm.requestHeadersTimeoutMs } : {}),
      ...(hcm.idleTimeoutMs ? { idleTimeoutMs: hcm.idleTimeoutMs } : {}),
      limits: { maxHeadBytes: hcm.maxRequestHeadersKb * 1024, maxHeaders: hcm.maxHeadersCount },
    });
    this.#servers.set(routeConfigName, { server });
    return server;
  }

  #client(ip: string): ClientPools {
    let c = this.#clients.get(ip);
    if (c !== undefined) return c;
    const pools = new UpstreamPools({
      hbone: this.o.hbone,
      identity: this.o.identity,
      hboneHeaders: { forwarded: `for="${ip.includes(':') ? `[${ip}]` : ip}"`, baggage: this.#baggage },
    });
    pools.retain(this.#clusters);
    c = { pools, active: 0, idleSince: Date.now() };
    this.#clients.set(ip, c);
    return c;
  }

  /** PoolSource (the route handlers'): the pools of the request's client (its `remoteAddress` is the `forwarded` client). */
  get(cluster: UpstreamCluster, ep: UpstreamEndpoint, head: RequestHeadView): Upstream {
    return this.#client(head.remoteAddress).pools.get(cluster, ep);
  }

  /** A stream no listener claims: on at L4 to a workload the clusters know, else refused. */
  async #l4(t: InboundTunnel): Promise<void> {
    if (t.target.kind !== 'ip') return;
    const { ip, port } = t.target;
    const ep = this.#endpointAt(ip);
    if (!ep) {
      this.counts.refused++;
      return t.refuse(404, `waypoint ${this.o.namespace}/${this.o.name} serves no listener for ${t.authority} and knows no workload at ${ip}`);
    }
    this.counts.l4++;
    const authority = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
    const src = inboundSource(t.headers.forwarded, t.remoteAddress, t.remotePort);
    let upstream: Duplex;
    if (ep.tunnel === 'HBONE') {
      const tunnel = await this.o.hbone.connect({
        sourceIdentity: this.o.identity,
        destination: { ip, port: WAYPOINT_HBONE_PORT },
        ...(ep.identity ? { expectedIdentities: [ep.identity] } : {}),
        authority,
        headers: { forwarded: `for="${src.ip.includes(':') ? `[${src.ip}]` : src.ip}:${src.port}"`, baggage: this.#baggage },
      });
      upstream = tunnel.stream;
    } else {
      upstream = await dialTcp(ip, port);
    }
    const stream = t.accept();
    splice(stream, upstream, { received: 0, sent: 0 }, { onSpliceEnd: () => {} });
  }

  #endpointAt(ip: string): UpstreamEndpoint | undefined {
    for (const c of this.#clusters) for (const e of c.endpoints) if (e.address === ip) return e;
    return undefined;
  }

  #closeIdle(now: number): void {
    for (const [k, c] of this.#clients) {
      if (c.active > 0 || now - c.idleSince < IDLE_MS) continue;
      this.#clients.delete(k);
      c.pools.close();
    }
  }

  async close(graceMs = 5000): Promise<void> {
    clearInterval(this.#sweep);
    await this.server.close(graceMs);
    await Promise.allSettled([...this.#servers.values()].map((r) => r.server.close(graceMs)));
    this.#servers.clear();
    for (const c of this.#clients.values()) c.pools.close();
    this.#clients.clear();
  }
}

/** `ip:port` as HboneTarget spells addresses (IPv6 bracketed). */
function authorityKey(ip: string, port: number): string {
  const bare = ip.startsWith('[') ? ip.slice(1, -1) : ip;
  return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
}

function workloadOf(b: Record<string, string>): string {
  for (const k of ['deployment', 'cronjob', 'job', 'pod', 'workloadentry']) if (b[`k8s.${k}.name`]) return b[`k8s.${k}.name`]!;
  return b['service.name'] ?? 'unknown';
}

function dialTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => s.destroy(new Error(`connecting to ${host}:${port} timed out`)), 10_000);
    s.once('connect', () => {
      clearTimeout(timer);
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
