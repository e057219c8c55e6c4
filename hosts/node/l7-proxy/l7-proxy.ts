/**
 * L7Proxy: the composition root of `weft gateway` and `weft waypoint`. It holds its own
 * workload certificate (the service account of its Gateway), receives Envoy resources over delta
 * ADS into an EnvoyConfigStore that compiles each once (listeners, route tables, secrets; clusters
 * with their endpoints as one upstream model), binds the listeners, and serves every filter chain
 * with the L7 engine (hosts/node/l7) behind a RouteHandler for that chain's route configuration.
 * Admin (15000 `/config_dump`), stats (15020 `/stats/prometheus`) and ready (15021) as the node
 * proxy's. When the control plane goes away it serves its last config and reconnects.
 * In the waypoint role nothing is bound per listener: HBONE comes in on `<listen>:15008` and the
 * CONNECT authority (service VIP:port) selects the listener (waypoint.ts).
 */
import { createSecureContext } from 'node:tls';
import { compileListener } from '../../../core/route/listener-chains.ts';
import type { CompiledListener, FilterChain } from '../../../core/route/listener-chains.ts';
import { compileClusters, compileRoutes } from '../../../core/route/index.ts';
import type { RouteTable, UpstreamCluster } from '../../../core/route/index.ts';
import { HttpMetrics } from '../../../core/telemetry/index.ts';
import { TYPE_URL } from '../../../core/xds/type-urls.ts';
import { protoToJson } from '../../../core/xds/proto-json.ts';
import type { envoy } from '../../../core/xds/pb.ts';
import { CertificateManager, createCaSigner, type CertificateSigner } from '../certs/index.ts';
import type { DeltaTransport } from '../xds/delta-client-base.ts';
import { HboneClient } from '../hbone/index.ts';
import { L7Server } from '../l7/index.ts';
import { AccessLogWriter, AdminServer, ReadyServer, StatsServer } from '../servers/index.ts';
import { EnvoyConfigStore, type EnvoyConfig, type L7TypeUrl } from './envoy-config.ts';
import { ListenerManager, type AcceptedConnection, type ServedSecret } from './listener-manager.ts';
import { RouteHandler, type Routing } from './route-handler.ts';
import { UpstreamPools } from './upstreams.ts';
import { WaypointInbound } from './waypoint.ts';
import { startL7Xds } from './xds-wiring.ts';
import { OtlpExporter } from './otlp-exporter.ts';
import { Tracing } from './tracing.ts';
import { authzDeps, authzRunners, compileListenerAuthz, type L7AuthzRunner } from './filters/index.ts';
import { PluginHost, type RuntimeFactory } from './plugin-host.ts';

export interface L7ProxyConfig {
  role: 'gateway' | 'waypoint';
  control: string;
  rootCertPem: string;
  token: string;
  trustDomain: string;
  namespace: string;
  name: string;
  /** Default: the name (Istio's waypoints run as a service account named after their Gateway). */
  serviceAccount?: string;
  labels: Record<string, string>;
  listen: string;
  ports: { admin: number; stats: number; ready: number };
  /** JSON access log: a file, `-` for stdout, or none. */
  accessLog?: string;
  certTtlSeconds?: number;
  /** Waypoint: the HBONE port (15008; 0 in tests). */
  hbonePort?: number;
  /** Tracing (tracing.ts): spans as OTLP/HTTP JSON to `<otlpEndpoint>/v1/traces`; percent of started traces sampled (default 1); export interval. */
  tracing?: { otlpEndpoint?: string; samplingPercent?: number; flushMs?: number };
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
  /** The plugin runtime's factory (tests); default the Node runtime, imported with the first plugin. */
  pluginRuntime?: RuntimeFactory;
  /** Prepared plugin components are cached here (`<state dir>/plugin-cache`; default a dir in the tmpdir). */
  pluginCacheDir?: string;
  /**
   * `weft up` (control plane in this process): CSRs signed and xDS served in-process, and one
   * admin/stats/ready set for the process at `adminAddress` (none of this proxy's own; reported as its admin).
   */
  signer?: CertificateSigner;
  xdsTransport?: DeltaTransport;
  adminAddress?: string;
}

type ClusterProto = envoy.config.cluster.v3.Cluster.$Properties;
type AssignmentProto = envoy.config.endpoint.v3.ClusterLoadAssignment.$Properties;
type SecretProto = envoy.extensions.transport_sockets.tls.v3.Secret.$Properties;

/** An SDS Secret -> a TLS context (the key stays in this process). */
function compileSecret(name: string, s: SecretProto): ServedSecret {
  const chain = s.tlsCertificate?.certificateChain?.inlineBytes;
  const key = s.tlsCertificate?.privateKey?.inlineBytes;
  if (!chain?.length || !key?.length) throw new Error(`secret ${name}: tls_certificate needs certificate_chain and private_key inline_bytes`);
  const certPem = Buffer.from(chain).toString('utf8');
  const keyPem = Buffer.from(key).toString('utf8');
  return { certPem, keyPem, context: createSecureContext({ cert: certPem, key: keyPem }) };
}

function compile(typeUrl: L7TypeUrl, name: string, message: object): unknown {
  switch (typeUrl) {
    case TYPE_URL.listener:
      return compileListenerAuthz(compileListener(message));
    case TYPE_URL.route:
      return compileRoutes(message);
    case TYPE_URL.secret:
      return compileSecret(name, message);
    default:
      return message; // clusters and endpoints compile together (compileClusters) on each change
  }
}

export class L7Proxy {
  readonly identity: string;
  readonly certificates: CertificateManager;
  readonly hbone: HboneClient;
  readonly metrics = new HttpMetrics();
  readonly store: EnvoyConfigStore;
  readonly pools: UpstreamPools;
  readonly ports: Record<string, number> = {};
  readonly listeners: ListenerManager;
  #routes = new Map<string, RouteTable>();
  #clusters = new Map<string, UpstreamCluster>();
  readonly #servers = new Map<string, L7Server>();
  readonly #routing: Routing = {
    routes: (name) => this.#routes.get(name),
    cluster: (name) => this.#clusters.get(name),
    authz: (name) => this.#authz.get(name),
  };
  /** AuthorizationPolicy / RequestAuthentication filters by route configuration name (filters/). */
  #authz = new Map<string, L7AuthzRunner>();
  readonly #authzDeps = authzDeps((name) => this.#clusters.get(name), (level, msg) => this.config.log(level, msg));
  #xds?: ReturnType<typeof startL7Xds>;
  #side: (AdminServer | StatsServer | ReadyServer)[] = [];
  #accessLog?: AccessLogWriter;
  #outlierTimer?: NodeJS.Timeout;
  /** Role waypoint: HBONE in, listeners selected by the CONNECT authority instead of bound (waypoint.ts). */
  readonly waypoint?: WaypointInbound;
  readonly tracing: Tracing;
  readonly otlp?: OtlpExporter;
  /** WasmPlugins from ECDS (plugin-host.ts); their filters run in the route handlers. */
  readonly plugins: PluginHost;

  constructor(readonly config: L7ProxyConfig) {
    this.plugins = new PluginHost({ log: config.log, ...(config.pluginRuntime ? { createRuntime: config.pluginRuntime } : {}), ...(config.pluginCacheDir ? { pluginCacheDir: config.pluginCacheDir } : {}) });
    this.store = new EnvoyConfigStore(config.role === 'waypoint' ? (t, name, m) => compile(t, name, t === TYPE_URL.route ? anyAuthority(m) : m) : compile);
    this.identity = `spiffe://${config.trustDomain}/ns/${config.namespace}/sa/${config.serviceAccount ?? config.name}`;
    this.certificates = new CertificateManager({
      signer: config.signer ?? createCaSigner({ address: config.control, rootCert: config.rootCertPem, token: config.token, trustDomain: config.trustDomain }),
      rootPems: config.rootCertPem,
      ...(config.certTtlSeconds ? { validitySeconds: config.certTtlSeconds } : {}),
    });
    const t = config.tracing;
    if (t?.otlpEndpoint) {
      const resource = { 'service.name': `${config.name}.${config.namespace}`, 'service.namespace': config.namespace, 'weft.role': config.role };
      this.otlp = new OtlpExporter({ endpoint: t.otlpEndpoint, resource, ...(t.flushMs ? { flushMs: t.flushMs } : {}), log: config.log });
    }
    this.tracing = new Tracing({ ...(this.otlp ? { exporter: this.otlp } : {}), ...(t?.samplingPercent !== undefined ? { samplingPercent: t.samplingPercent } : {}) });
    this.hbone = new HboneClient({ certificates: this.certificates, trustDomains: [config.trustDomain] });
    this.pools = new UpstreamPools({ hbone: this.hbone, identity: this.identity });
    this.listeners = new ListenerManager({
      listenHost: config.listen,
      secret: (name) => this.store.get<ServedSecret>(TYPE_URL.secret, name)?.compiled,
      onConnection: (c) => this.#accept(c),
      log: config.log,
    });
    if (config.role === 'waypoint') {
      this.waypoint = new WaypointInbound({
        listen: config.listen,
        ...(config.hbonePort !== undefined ? { port: config.hbonePort } : {}),
        identity: this.identity,
        namespace: config.namespace,
        name: config.name,
        trustDomains: [config.trustDomain],
        certificates: this.certificates,
        hbone: this.hbone,
        metrics: this.metrics,
        routing: () => this.#routing,
        accessLog: (line) => this.#accessLog?.line(line),
        tracing: this.tracing,
        plugins: () => this.plugins.plugins(),
        log: config.log,
      });
    }
    this.store.onChange((c) => this.#apply(c));
  }

  async start(): Promise<void> {
    const { config } = this;
    const host = config.listen;
    if (config.accessLog) {
      this.#accessLog = new AccessLogWriter(config.accessLog === '-' ? {} : { path: config.accessLog });
      await this.#accessLog.start();
    }
    if (!config.adminAddress) {
      const admin = new AdminServer({ host, port: config.ports.admin, configDump: () => this.configDump() });
      const stats = new StatsServer({ host, port: config.ports.stats, metrics: [this.metrics, this.plugins.metrics] });
      const ready = new ReadyServer({ host, port: config.ports.ready, ready: () => this.ready() });
      this.#side = [admin, stats, ready];
      this.ports.admin = (await admin.start()).port;
      this.ports.stats = (await stats.start()).port;
      this.ports.ready = (await ready.start()).port;
    }
    if (this.waypoint) {
      await this.waypoint.start();
      this.ports.hbone = this.waypoint.port;
    }
    this.certificates.get(this.identity).catch((e: Error) => config.log('warn', `certificate for ${this.identity}: ${e.message}`));
    this.#outlierTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.#clusters.values()) c.outlier?.tick(now);
    }, 1000);
    this.#outlierTimer.unref();
    this.#xds = startL7Xds({
      control: config.control,
      rootCertPem: config.rootCertPem,
      token: config.token,
      trustDomain: config.trustDomain,
      identity: { role: config.role, namespace: config.namespace, name: config.name, labels: config.labels, ip: host, adminAddress: config.adminAddress ?? `${host}:${this.ports.admin}` },
      ...(config.xdsTransport ? { transport: config.xdsTransport } : {}),
      store: this.store,
      plugins: this.plugins,
      log: config.log,
    });
  }

  ready(): true | string {
    if (!this.#xds?.isSynced()) return 'waiting for the first config from the control plane';
    if (!this.certificates.current(this.identity)) return `waiting for the certificate of ${this.identity}`;
    if (this.waypoint) return this.waypoint.ready();
    const failed = this.listeners.status().filter((s) => s.state === 'failed');
    return failed.length ? `listeners not bound: ${failed.map((f) => `${f.name} (${f.error})`).join(', ')}` : true;
  }

  /** A new config: recompile clusters with their endpoints (balancer and outlier state carried over), rebind listeners. */
  #apply(c: EnvoyConfig): void {
    const routes = new Map<string, RouteTable>();
    for (const r of c.byType.get(TYPE_URL.route)!.values()) routes.set(r.name, r.compiled as RouteTable);
    this.#routes = routes;
    const clusters = [...c.byType.get(TYPE_URL.cluster)!.values()].map((r) => r.message as ClusterProto);
    const assignments = [...c.byType.get(TYPE_URL.endpoint)!.values()].map((r) => r.message as AssignmentProto);
    try {
      this.#clusters = compileClusters(clusters, assignments, { previous: this.#clusters });
    } catch (e) {
      this.config.log('warn', `clusters: ${(e as Error).message}; keeping the previous upstream model`);
    }
    this.pools.retain(this.#clusters.values());
    this.#authz = authzRunners([...c.byType.get(TYPE_URL.listener)!.values()].map((r) => r.compiled as CompiledListener), this.#authzDeps);
    if (this.waypoint) {
      const held = [...c.byType.get(TYPE_URL.listener)!.values()].map((r) => ({ compiled: r.compiled as CompiledListener, additionalAddresses: additionalAddresses(r.message) }));
      return this.waypoint.configure(held, this.#clusters.values());
    }
    const listeners = [...c.byType.get(TYPE_URL.listener)!.values()].map((r) => r.compiled as CompiledListener);
    this.listeners.secretsChanged();
    void this.listeners.reconcile(listeners);
  }

  #accept(c: AcceptedConnection): void {
    const server = this.#serverFor(c.chain, c.listener.port);
    if ('encrypted' in c.socket && c.socket.encrypted) server.handleTls(c.socket);
    else server.handleConnection(c.socket);
  }

  /** One engine server per route configuration (its handler reads that table); limits from the chain's HCM. */
  #serverFor(chain: FilterChain, port = 0): L7Server {
    const name = chain.hcm.routeConfigName;
    let s = this.#servers.get(name);
    if (s === undefined) {
      const handler = new RouteHandler({
        routeConfigName: name,
        port,
        routing: () => this.#routing,
        pools: this.pools,
        metrics: this.metrics,
        tracing: this.tracing,
        plugins: () => this.plugins.plugins(),
        log: this.config.log,
        self: { reporter: this.config.role, workload: this.config.name, namespace: this.config.namespace, principal: this.identity },
        ...(this.#accessLog ? { accessLog: (line: string) => this.#accessLog!.line(line) } : {}),
      });
      const hcm = chain.hcm;
      s = new L7Server(handler, {
        ...(hcm.requestHeadersTimeoutMs ? { headerTimeoutMs: hcm.requestHeadersTimeoutMs } : {}),
        ...(hcm.idleTimeoutMs ? { idleTimeoutMs: hcm.idleTimeoutMs } : {}),
        limits: { maxHeadBytes: hcm.maxRequestHeadersKb * 1024, maxHeaders: hcm.maxHeadersCount },
      });
      this.#servers.set(name, s);
    }
    return s;
  }

  configDump(): Record<string, unknown> {
    const x = this.#xds?.client;
    return {
      role: this.config.role,
      name: `${this.config.namespace}/${this.config.name}`,
      identity: this.identity,
      xds: { connected: x?.connected ?? false, resources: this.store.summary() },
      listeners: this.listeners.status(),
      ...(this.waypoint ? { waypoint: this.waypoint.status() } : {}),
      clusters: [...this.#clusters.values()].map((c) => ({
        name: c.name,
        lbPolicy: c.lbPolicy,
        protocol: c.protocol,
        endpoints: c.endpoints.map((e) => ({ address: e.key, tunnel: e.tunnel, identity: e.identity, healthy: e.healthy, ejected: c.outlier?.isEjected(e.key) ?? false })),
      })),
      certificates: this.certificates.list(),
      ...(this.otlp ? { tracing: this.otlp.status() } : {}),
      plugins: this.plugins.status(),
      // the Envoy resources as JSON for `weft proxy-config listeners|routes|clusters` (secrets by name only)
      envoy: {
        listeners: [...this.store.current.byType.get(TYPE_URL.listener)!.values()].map((r) => protoToJson(r.message)),
        routes: [...this.store.current.byType.get(TYPE_URL.route)!.values()].map((r) => protoToJson(r.message)),
        clusters: [...this.store.current.byType.get(TYPE_URL.cluster)!.values()].map((r) => protoToJson(r.message)),
        endpoints: [...this.store.current.byType.get(TYPE_URL.endpoint)!.values()].map((r) => protoToJson(r.message)),
        secrets: [...this.store.current.byType.get(TYPE_URL.secret)!.values()].map((r) => ({ name: r.name, version: r.version })),
      },
    };
  }

  async drain(graceMs = 5000): Promise<void> {
    this.#xds?.client.close();
    clearInterval(this.#outlierTimer);
    await this.listeners.close();
    await this.waypoint?.close(graceMs);
    await Promise.allSettled([...this.#servers.values()].map((s) => s.close(graceMs)));
    this.pools.close();
    this.hbone.close();
    await Promise.allSettled(this.#side.map((s) => s.drain()));
    this.certificates.close();
    await this.#accessLog?.close();
    await this.otlp?.close();
  }
}

/** A waypoint Listener's further VIPs (dual stack): `additional_addresses[].address.socket_address.address`. */
function additionalAddresses(message: object): string[] {
  const extra = (message as { additionalAddresses?: { address?: { socketAddress?: { address?: string } } }[] }).additionalAddresses ?? [];
  return extra.map((a) => a.address?.socketAddress?.address ?? '').filter((a) => a !== '');
}

/**
 * A waypoint has already chosen the service by the CONNECT authority (VIP:port -> listener), so, as
 * Istio's waypoint route configurations do (one virtual host, domain `*`), the Host header does not
 * select the virtual host: a client calling the VIP, or sending any Host, reaches the service's routes.
 * The per-service route configuration `<hostname>:<port>` keeps its domains on the wire (proxyless gRPC
 * reads the same resource); only the waypoint's compiled copy matches any authority.
 */
function anyAuthority(message: object): object {
  const rc = message as { virtualHosts?: { domains?: string[] }[] };
  const vh = rc.virtualHosts?.length === 1 ? rc.virtualHosts[0]! : undefined;
  if (!vh || vh.domains?.includes('*')) return message;
  const any = Object.assign(Object.create(Object.getPrototypeOf(vh) as object) as object, vh, { domains: ['*'] });
  return Object.assign(Object.create(Object.getPrototypeOf(message) as object) as object, message, { virtualHosts: [any] });
}
