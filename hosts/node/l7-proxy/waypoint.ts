/**
 * The waypoint's inbound side (design.md 3, core/route/README.md "Waypoint"): an HboneServer on
 * `<listen>:15008` presenting the waypoint's own certificate (ns/NS/sa/NAME), verifying the peer (the
 * source node proxy, presenting the client workload's identity), and each CONNECT stream handed to
 * the L7 engine for the listener whose address is the CONNECT `:authority` (service VIP:port ->
 * Listener `<hostname>:<port>` -> route configuration `<hostname>:<port>`).
 *
 * Who the downstream is (its SPIFFE id, the client address in `forwarded: for=`, its workload from
 * `baggage`) is per stream, while the engine's RequestHeadView carries only a remote address. Until
 * the engine carries a peer identity itself, a stream is served by an engine server + RouteHandler
 * made for its downstream (route configuration, peer identity, client IP, client workload): the
 * handler reports Istio's waypoint metrics with that client as the source (reporter="waypoint",
 * source_principal = the peer's SPIFFE id), the access log line names it, and the upstream pools it
 * uses send `forwarded: for="<client ip>"` on their HBONE CONNECTs, so the destination node proxy
 * sees the original client's address (its L4 policy sees the waypoint's identity, as in Istio).
 * Downstream contexts idle for a minute are closed.
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
import { L7Server, type ExchangeSummary, type L7Exchange, type L7Handler, type UpstreamOutcome } from '../l7/index.ts';
import { splice } from '../servers/index.ts';
import { RouteHandler, type Routing } from './route-handler.ts';
import type { Tracing } from './tracing.ts';
import { UpstreamPools } from './upstreams.ts';

export const WAYPOINT_HBONE_PORT = 15008;
/** A downstream context with no open stream for this long is closed (its pools with it). */
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
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

interface Target {
  listener: CompiledListener;
  chain: FilterChain;
}

/** One downstream (route configuration, peer, client): its engine server, handler and pools. */
interface Downstream {
  key: string;
  server: L7Server;
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
  downstreams: number;
  tunnels: { accepted: number; l7: number; l4: number; refused: number };
}

export class WaypointInbound {
  readonly server: HboneServer;
  readonly counts = { accepted: 0, l7: 0, l4: 0, refused: 0 };
  #targets = new Map<string, Target>();
  #clusters: readonly UpstreamCluster[] = [];
  readonly #downstreams = new Map<string, Downstream>();
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
    for (const d of this.#downstreams.values()) d.pools.retain(this.#clusters);
  }

  status(): WaypointStatus {
    const targets: Record<string, string> = {};
    for (const [k, t] of this.#targets) targets[k] = t.listener.name;
    return {
      listening: this.#listening,
      ...(this.#address ? { address: this.#address } : {}),
      ...(this.#error ? { error: this.#error } : {}),
      targets,
      downstreams: this.#downstreams.size,
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
    const d = this.#downstream(target, t.peerIdentity, src.ip, baggage);
    const stream = t.accept();
    d.active++;
    stream.once('close', () => {
      if (--d.active === 0) d.idleSince = Date.now();
    });
    d.server.handleConnection(stream, { address: src.ip, port: src.port });
  }

  #downstream(target: Target, peer: string, clientIp: string, baggage: Record<string, string>): Downstream {
    const chain = target.chain;
    const routeConfigName = chain.hcm.routeConfigName;
    const workload = workloadOf(baggage);
    const key = `${routeConfigName}\0${peer}\0${clientIp}\0${workload}`;
    let d = this.#downstreams.get(key);
    if (d !== undefined) return d;
    const o = this.o;
    const pools = new UpstreamPools({
      hbone: o.hbone,
      identity: o.identity,
      hboneHeaders: { forwarded: `for="${clientIp.includes(':') ? `[${clientIp}]` : clientIp}"`, baggage: this.#baggage },
    });
    pools.retain(this.#clusters);
    const ns = baggage['k8s.namespace.name'] ?? /\/ns\/([^/]+)\//.exec(peer)?.[1] ?? '';
    const logPrefix = `{"reporter":"waypoint","source_principal":${JSON.stringify(peer)},"source_workload":${JSON.stringify(workload)},`;
    const accessLog = o.accessLog;
    const handler = new RouteHandler({
      routeConfigName,
      port: target.listener.port,
      routing: o.routing,
      pools,
      metrics: o.metrics,
      ...(o.tracing ? { tracing: o.tracing } : {}),
      // the waypoint reports the downstream client as the source (Istio's waypoint metrics)
      self: { reporter: 'waypoint', workload, namespace: ns, principal: peer },
      ...(accessLog ? { accessLog: (line: string) => accessLog(line.startsWith('{') ? logPrefix + line.slice(1) : line) } : {}),
    });
    const hcm = chain.hcm;
    const server = new L7Server(new PeerHandler(handler, peer), {
      ...(hcm.requestHeadersTimeoutMs ? { headerTimeoutMs: hcm.requestHeadersTimeoutMs } : {}),
      ...(hcm.idleTimeoutMs ? { idleTimeoutMs: hcm.idleTimeoutMs } : {}),
      limits: { maxHeadBytes: hcm.maxRequestHeadersKb * 1024, maxHeaders: hcm.maxHeadersCount },
    });
    d = { key, server, pools, active: 0, idleSince: Date.now() };
    this.#downstreams.set(key, d);
    return d;
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
    for (const [k, d] of this.#downstreams) {
      if (d.active > 0 || now - d.idleSince < IDLE_MS) continue;
      this.#downstreams.delete(k);
      void d.server.close(0);
      d.pools.close();
    }
  }

  async close(graceMs = 5000): Promise<void> {
    clearInterval(this.#sweep);
    await this.server.close(graceMs);
    await Promise.allSettled([...this.#downstreams.values()].map((d) => d.server.close(graceMs)));
    for (const d of this.#downstreams.values()) d.pools.close();
    this.#downstreams.clear();
  }
}

/**
 * Puts the downstream's SPIFFE id on each request head as `peerPrincipal` (what the L7 authorization
 * filters read: filters/authz-runner.ts) until the engine sets it itself from the connection; a head
 * that already has the field is left alone.
 */
class PeerHandler implements L7Handler {
  constructor(
    private readonly inner: RouteHandler,
    private readonly peer: string,
  ) {}

  request(ex: L7Exchange): void | Promise<void> {
    const head = ex.request as { peerPrincipal?: string };
    if (!('peerPrincipal' in head)) head.peerPrincipal = this.peer;
    return this.inner.request(ex);
  }

  upstreamOutcome(ex: L7Exchange, outcome: UpstreamOutcome): boolean | void {
    return this.inner.upstreamOutcome(ex, outcome);
  }

  end(ex: L7Exchange, summary: ExchangeSummary): void {
    this.inner.end(ex, summary);
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
