/**
 * NodeProxy: the composition root of `weft node` (ztunnel's Proxy). It builds the inputs bundle,
 * connects xDS to the state store, keeps certificates for the node's workloads, and starts the
 * listeners, each a small class with start()/drain(): HBONE on `<listen>:15008`, SOCKS5/CONNECT,
 * DNS, admin, stats, ready, and (with capture) the CNI socket and the pods' in-pod listeners.
 * Ready (15021) once the first xDS state and the certificates of the node's workloads are in.
 */
import { resolveMeshName } from '../../../core/node/index.ts';
import { TYPE_URL } from '../../../core/xds/type-urls.ts';
import { CertificateManager, createCaSigner, type CertificateSigner } from '../certs/index.ts';
import type { DeltaTransport } from '../xds/delta-client-base.ts';
import type { CniServer } from '../cni/index.ts';
import type { PodCapture } from '../capture/index.ts';
import { HboneClient, HboneServer } from '../hbone/index.ts';
import type { ConnectionInfo } from '../hbone/index.ts';
import { AdminServer, DnsServer, onFirstBulkTransfer, ProxyEntryServer, ReadyServer, StatsServer } from '../servers/index.ts';
import { CertificateKeeper } from './certificates.ts';
import { configDump } from './config-dump.ts';
import { Enrolment } from './enrolment.ts';
import { InboundHandler } from './inbound.ts';
import { makeInputs } from './inputs.ts';
import type { NodeProxyConfig, NodeProxyInputs } from './inputs.ts';
import { OutboundHandler } from './outbound.ts';
import { PolicyEnforcer } from './policy-enforcer.ts';
import { startCapture } from './pod-wiring.ts';
import { startXds } from './xds-wiring.ts';
import type { XdsWiring } from './xds-wiring.ts';
import { PluginHost, type RuntimeFactory } from '../l7-proxy/plugin-host.ts';

/**
 * Set by `weft up`, where the control plane runs in the same process: certificates signed and xDS
 * served in-process, and one admin/stats/ready set for the whole process at `adminAddress` (this
 * proxy then starts none of its own and reports that address to the control plane).
 */
export interface InProcessControl {
  signer?: CertificateSigner;
  xdsTransport?: DeltaTransport;
  adminAddress?: string;
}

export class NodeProxy {
  readonly inputs: NodeProxyInputs & { setAliases(a: readonly string[]): void };
  readonly hboneClient: HboneClient;
  readonly hboneServer: HboneServer;
  readonly outbound: OutboundHandler;
  readonly inbound: InboundHandler;
  /** Closes live inbound connections a policy change now denies. */
  readonly enforcer: PolicyEnforcer;
  readonly ports: Record<string, number> = {};
  #keeper: CertificateKeeper;
  #xds?: XdsWiring;
  #entry?: ProxyEntryServer;
  #dns?: DnsServer;
  #side: (AdminServer | StatsServer | ReadyServer)[] = [];
  #capture?: { capture: PodCapture; cni: CniServer; enrolment: Enrolment };
  /** l4-policy WasmPlugins from ECDS (runtime imported with the first one). */
  readonly plugins: PluginHost;

  constructor(readonly config: NodeProxyConfig & { pluginRuntime?: RuntimeFactory; pluginCacheDir?: string } & InProcessControl) {
    const certificates = new CertificateManager({
      signer: config.signer ?? createCaSigner({ address: config.control, rootCert: config.rootCertPem, token: config.token, trustDomain: config.trustDomain }),
      rootPems: config.rootCertPem,
      ...(config.certTtlSeconds ? { validitySeconds: config.certTtlSeconds } : {}),
    });
    this.inputs = makeInputs(config, certificates);
    const inputs = this.inputs;
    const plugins = (this.plugins = new PluginHost({ log: (level, message) => config.log(level === 'error' ? 'warn' : level, message), ...(config.pluginRuntime ? { createRuntime: config.pluginRuntime } : {}), ...(config.pluginCacheDir ? { pluginCacheDir: config.pluginCacheDir } : {}) }));
    inputs.plugins = { plugins: () => plugins.plugins(), denied: (name) => plugins.metrics.counterAdd(name, 'connections_denied', 1) };
    this.hboneClient = new HboneClient({ certificates, trustDomains: [config.trustDomain] });
    this.inbound = new InboundHandler(inputs);
    this.hboneServer = new HboneServer({
      certificate: (conn) => this.#serverCertificate(conn),
      get trustDomains() {
        return inputs.trustDomains();
      },
      onTunnel: this.inbound.onTunnel,
    });
    this.hboneServer.on('refused', (e: { reason: string; message: string; remoteAddress?: string }) => config.log('debug', `HBONE refused ${e.remoteAddress ?? ''}: ${e.reason}: ${e.message}`));
    this.outbound = new OutboundHandler(inputs, this.hboneClient);
    this.#keeper = new CertificateKeeper(inputs, [this.hboneServer]);
    this.enforcer = new PolicyEnforcer(inputs);
  }

  /** Starts every listener, then xDS. Resolves when listening (not when ready). */
  async start(): Promise<void> {
    const { config, inputs } = this;
    const host = config.listen;
    // glibc's malloc settings for bulk transfers, once one connection moves a few MB (splice.ts says why)
    onFirstBulkTransfer(() => {
      void import('../capture/original-dst.ts').then((m) => {
        if (m.tuneMallocForBulk()) config.log('info', 'bulk transfer seen: malloc settings for throughput (trim threshold 16 MiB, top pad 4 MiB, mmap threshold 1 MiB)');
      });
    });
    await inputs.accessLog.start();
    this.ports.hbone = (await this.hboneServer.listen(config.ports.hbone, host)).port;
    this.#entry = new ProxyEntryServer({ host, port: config.ports.socks, onConnect: this.outbound.onConnect, log: (l, m) => config.log(l, m) });
    this.ports.socks = (await this.#entry.start()).port;
    this.#dns = new DnsServer({
      host,
      port: config.ports.dns,
      resolve: (name, client) => {
        const a = resolveMeshName(inputs.state.current, { name, clientIp: client });
        return a ? { addresses: a.addresses } : undefined;
      },
      log: (l, m) => config.log(l, m),
    });
    this.ports.dns = (await this.#dns.start()).port;
    if (!config.adminAddress) {
      const admin = new AdminServer({ host, port: config.ports.admin, configDump: () => this.configDump() });
      const stats = new StatsServer({ host, port: config.ports.stats, metrics: [inputs.metrics, this.plugins.metrics] });
      const ready = new ReadyServer({ host, port: config.ports.ready, ready: () => this.ready() });
      this.#side = [admin, stats, ready];
      this.ports.admin = (await admin.start()).port;
      this.ports.stats = (await stats.start()).port;
      this.ports.ready = (await ready.start()).port;
    }
    if (config.capture === 'iptables' || config.socket) this.#capture = await startCapture(this);
    inputs.state.on('state', () => {
      this.#keeper.reconcile(inputs.state.current);
      void this.#capture?.enrolment.reconcile();
    });
    this.#xds = startXds(inputs, { ADMIN_ADDRESS: config.adminAddress ?? `${host}:${this.ports.admin}` }, this.plugins, config.xdsTransport);
  }

  /** The DNS proxy (started by start()); in-pod DNS sockets are served by it (pod-wiring.ts). */
  get dnsServer(): DnsServer | undefined {
    return this.#dns;
  }

  /** True when ready, else why not (15021's body). */
  ready(): true | string {
    if (!this.#xds?.isSynced()) return 'waiting for the first state from the control plane';
    const missing = this.#keeper.missing();
    return missing.length ? `waiting for certificates: ${missing.join(', ')}` : true;
  }

  configDump(): Record<string, unknown> {
    const x = this.#xds?.client;
    const versions: Record<string, string> = {};
    for (const t of [TYPE_URL.meshConfig, TYPE_URL.authorization, TYPE_URL.address]) versions[t] = x?.version(t) ?? '';
    versions[TYPE_URL.extensionConfig] = x?.version(TYPE_URL.extensionConfig) ?? '';
    return configDump({
      plugins: () => this.plugins.status(),
      inputs: this.inputs,
      ports: () => this.ports,
      xds: () => ({ connected: x?.connected ?? false, versions }),
      enrolled: () => this.#capture?.enrolment.list() ?? [],
    });
  }

  /** SIGTERM: stop accepting, let tunnels finish for `drainMs`, then close the rest. */
  async drain(): Promise<void> {
    const grace = this.config.drainMs;
    this.#xds?.client.close();
    this.enforcer.close();
    await Promise.allSettled([
      this.#entry?.drain(grace),
      this.hboneServer.close(grace),
      this.#dns?.drain(),
      this.#capture?.cni.close(),
      this.#capture?.capture.close(),
    ]);
    this.hboneClient.close();
    this.inputs.tracker.closeAll();
    await Promise.allSettled(this.#side.map((s) => s.drain()));
    this.inputs.certificates.close();
    await this.inputs.accessLog.close();
  }

  /** The certificate of the local HBONE workload at the address the peer dialed. */
  async #serverCertificate(conn: ConnectionInfo) {
    const ip = conn.localAddress.startsWith('::ffff:') ? conn.localAddress.slice(7) : conn.localAddress;
    const w = this.inputs.state.current.workloadByIp(ip);
    if (!w || w.tunnel !== 'HBONE' || w.node !== this.config.nodeName) return undefined;
    return this.inputs.certificates.get(w.identity);
  }
}
