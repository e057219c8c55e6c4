/**
 * `weft control`: the Store (fed by a directory of YAML, or the embedded sample), the CA, and the
 * ADS server on 15010 (plaintext, loopback by default) and 15012 (TLS, join token required), plus
 * the HTTP API on 15014 (with `lazyGrpc`, the gRPC servers are made on a port's first connection).
 * One snapshot feeds everything: a change is validated, swapped in, pushed.
 */
import { Metadata, Server, ServerCredentials, type ServerDuplexStream, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { Server as HttpServer } from 'node:http';
import { ConfigStore, formatIssue, type ConfigSource, type MeshSnapshot } from '../../../core/config/index.ts';
import { SAMPLE_FILES } from '../../../core/config/sample/index.ts';
import type { SourceFile } from '../../../core/ports/index.ts';
import { openControlPlaneState, createCaService, issueControlPlaneCertificate, authenticate, CaRefusal, impersonationMetadata } from '../ca/index.ts';
import type { Caller } from '../../../core/identity/index.ts';
import { AdsServer, type AdsAccess, type XdsCaller } from '../xds/index.ts';
import { inMemoryDeltaStream } from '../xds/in-memory.ts';
import type { DeltaClientStream } from '../xds/delta-client-base.ts';
import { DirectorySource } from '../config/index.ts';
import { ControlMetrics } from './metrics.ts';
import { createHttpApi } from './http-api.ts';
import { RestXds } from './rest-xds.ts';
import type { NodeInfo } from '../../../core/xds/index.ts';
import { StaticSource } from './static-source.ts';
import { listenLazily, type LazyGrpcPort } from './lazy-grpc-port.ts';

export interface ControlOptions {
  /** Directory of YAML; the embedded sample mesh when absent. */
  configDir?: string;
  /** Read the Kubernetes API instead (`--kubernetes`): a kubeconfig file, or in-cluster / the default one. */
  kubernetes?: { kubeconfig?: string };
  /** In-memory YAML instead of the sample when there is no directory (`weft up --port-offset`: the sample with its ports moved). */
  files?: readonly SourceFile[];
  meshFile?: string;
  cacertsDir?: string;
  stateDir?: string;
  /** Address of 15012 and 15014. */
  listen: string;
  /** Address of the plaintext 15010 (loopback unless told otherwise). */
  xdsListen: string;
  xdsPort: number;
  securePort: number;
  httpPort: number;
  /** Debounce of file changes and of pushes, in ms. */
  debounceMs?: number;
  /**
   * Bind 15010 and 15012 at start but make their gRPC servers on the first connection
   * (lazy-grpc-port.ts): `weft up`, whose own proxies reach the control plane in memory.
   */
  lazyGrpc?: boolean;
  log?: (line: string) => void;
}

export interface ControlPorts {
  xds: number;
  secure: number;
  http: number;
}

export class ControlPlane {
  readonly metrics = new ControlMetrics();
  ports: ControlPorts = { xds: 0, secure: 0, http: 0 };
  stateDir = '';
  rootCertPem = '';
  /** The file a node proxy is given as `--root-cert`: the mesh root, from cacerts or the state directory. */
  rootCertPath = '';
  readonly #store: ConfigStore;
  /** One ADS server (one translation per snapshot) on both ports, with different access checks. */
  readonly #ads: AdsServer;
  readonly #source: ConfigSource;
  readonly #log: (line: string) => void;
  #grpcPlain?: Server;
  #grpcSecure?: Server;
  #lazyPorts: LazyGrpcPort[] = [];
  #http?: HttpServer;
  #ready = false;

  private constructor(readonly opts: ControlOptions, store: ConfigStore, source: ConfigSource) {
    this.#store = store;
    this.#source = source;
    this.#log = opts.log ?? ((line) => process.stderr.write(line + '\n'));
    const debounceMs = opts.debounceMs ?? 100;
    this.#ads = new AdsServer({ metrics: this.metrics, debounceMs });
  }

  static async start(opts: ControlOptions): Promise<ControlPlane> {
    const meshFile = opts.meshFile ? { path: opts.meshFile, text: await readFile(opts.meshFile, 'utf8') } : undefined;
    const store = new ConfigStore({
      ...(meshFile ? { meshFile } : {}),
      ...(opts.cacertsDir ? { rootCa: { source: 'cacerts', dir: opts.cacertsDir } } : {}),
    });
    // The Kubernetes client loads only when asked for: it is most of a megabyte of code.
    const source: ConfigSource = opts.kubernetes
      ? await kubernetes(store, opts.kubernetes, opts.log)
      : opts.configDir
      ? new DirectorySource(opts.configDir, { debounceMs: opts.debounceMs ?? 100 })
      : new StaticSource('sample', opts.files ?? SAMPLE_FILES);
    const cp = new ControlPlane(opts, store, source);
    await cp.#start();
    return cp;
  }

  get snapshot(): MeshSnapshot {
    return this.#store.snapshot;
  }

  /** Which gRPC servers exist (with `lazyGrpc`, only after a connection to their port). */
  get grpcServers(): { plain: boolean; secure: boolean } {
    return { plain: this.#grpcPlain !== undefined, secure: this.#grpcSecure !== undefined };
  }

  /** The config source's id (`dir:<path>`, `k8s:<API server URL>`, `sample`). */
  get sourceId(): string {
    return this.#source.id;
  }

  syncz(): unknown[] {
    return [...this.#ads.syncz(), ...this.#rest.syncz()];
  }

  /** REST-JSON xDS for the edge host on 15014 (rest-xds.ts): the 15012 token and node checks, the ADS views, never Secrets. */
  readonly #rest = new RestXds({
    authenticate: (authorization) => {
      const metadata = new Metadata();
      if (authorization !== undefined) metadata.set('authorization', authorization);
      return this.#authenticateMetadata(metadata);
    },
    admitNode,
    view: (node, caller) => this.#ads.viewFor(node, caller, false),
  });

  async #start(): Promise<void> {
    this.#store.subscribe((snap) => this.#onSnapshot(snap));
    await this.#source.start(this.#store.sink(this.#source.id));
    const snap = this.#store.snapshot;
    const state = await openControlPlaneState({
      stateDir: this.opts.stateDir,
      cacertsDir: this.opts.cacertsDir,
      trustDomain: snap.mesh.trustDomain,
    });
    this.stateDir = state.stateDir;
    this.rootCertPem = state.ca.rootCertPem;
    this.rootCertPath = join(this.opts.cacertsDir ?? state.stateDir, 'root-cert.pem');
    this.#onSnapshot(snap);

    const plainServer = (): Server => {
      const plain = new Server();
      this.#ads.addTo(plain);
      return plain;
    };
    const cert = issueControlPlaneCertificate(state.ca, {
      trustDomain: snap.mesh.trustDomain,
      ipAddresses: servingAddresses(this.opts.listen),
    });
    const secureAccess: AdsAccess = {
      authenticate: (call) => this.#authenticate(call),
      admitNode,
    };
    this.#secureAccess = secureAccess;
    const caService = createCaService({ ca: state.ca, tokens: state.tokens, snapshot: () => this.#store.snapshot, metrics: this.metrics, log: this.#log });
    this.#caService = caService.implementation;
    const secureServer = (): Server => {
      const secure = new Server();
      this.#ads.addTo(secure, secureAccess);
      secure.addService(caService.definition, caService.implementation);
      return secure;
    };
    const secureCreds = (): ServerCredentials =>
      ServerCredentials.createSsl(Buffer.from(state.ca.rootCertPem), [{ private_key: Buffer.from(cert.keyPem), cert_chain: Buffer.from(cert.chainPem) }], false);
    const plainAddr = { host: this.opts.xdsListen, port: this.opts.xdsPort };
    const secureAddr = { host: this.opts.listen, port: this.opts.securePort };
    if (this.opts.lazyGrpc) {
      const failed = (port: string) => (err: Error): void => this.#log(`control plane: cannot serve gRPC on ${port}: ${err.message}`);
      const lazyPlain = await listenLazily(plainAddr.host, plainAddr.port, () => ({ server: (this.#grpcPlain = plainServer()), creds: ServerCredentials.createInsecure() }), failed('the xDS port'));
      this.#lazyPorts.push(lazyPlain);
      this.ports.xds = lazyPlain.port;
      const lazySecure = await listenLazily(secureAddr.host, secureAddr.port, () => ({ server: (this.#grpcSecure = secureServer()), creds: secureCreds() }), failed('the secure port'));
      this.#lazyPorts.push(lazySecure);
      this.ports.secure = lazySecure.port;
    } else {
      const plain = plainServer();
      this.ports.xds = await bind(plain, `${plainAddr.host}:${plainAddr.port}`, ServerCredentials.createInsecure());
      this.#grpcPlain = plain;
      const secure = secureServer();
      this.ports.secure = await bind(secure, `${secureAddr.host}:${secureAddr.port}`, secureCreds());
      this.#grpcSecure = secure;
    }
    this.#tokens = state.tokens;

    this.#http = createHttpApi({
      snapshot: () => this.#store.snapshot,
      syncz: () => this.syncz(),
      metrics: this.metrics,
      ready: () => this.#ready,
      xdsWarnings: () => [...(this.#ads.resources?.warnings ?? []), ...this.#rest.warnings()],
      restXds: this.#rest,
    });
    this.ports.http = await new Promise<number>((resolve, reject) => {
      this.#http!.once('error', reject);
      this.#http!.listen(this.opts.httpPort, this.opts.listen, () => {
        const addr = this.#http!.address();
        resolve(typeof addr === 'object' && addr ? addr.port : this.opts.httpPort);
      });
    });
    this.#ready = true;
  }

  #tokens?: { verify(token: string, now?: number): Caller; create(caller: Caller): string };
  #secureAccess?: AdsAccess;
  #caService?: ReturnType<typeof createCaService>['implementation'];

  /** A join token minted with this control plane's key (`weft up`'s in-process proxies). */
  createToken(caller: Caller): string {
    if (!this.#tokens) throw new Error('control plane is starting');
    return this.#tokens.create(caller);
  }

  /**
   * `weft up`: a delta ADS stream from a proxy in this process, with 15012's checks (join token, node
   * admission, Secrets) and no gRPC, HTTP/2 or TLS in between (xds/in-memory.ts).
   */
  openLocalAdsStream(metadata: Metadata): DeltaClientStream {
    if (!this.#secureAccess) throw new Error('control plane is starting');
    const { client, server } = inMemoryDeltaStream(metadata);
    this.#ads.acceptDelta(server, this.#secureAccess);
    return client;
  }

  /** `weft up`: the CA's CreateCertificate called in-process (same token and authorization checks, metrics, refusal log). */
  signLocally(token: string, req: { identity: string; csrPem: string; validitySeconds: number }): Promise<string[]> {
    const handler = this.#caService?.['CreateCertificate'] as ((call: unknown, cb: (err: Partial<ServiceError> | null, res?: { certChain?: string[] }) => void) => void) | undefined;
    if (!handler) return Promise.reject(new Error('control plane is starting'));
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const call = { metadata, getPeer: () => 'in-process', request: { csr: req.csrPem, validityDuration: req.validitySeconds, metadata: impersonationMetadata(req.identity) } };
    return new Promise((resolve, reject) =>
      handler(call as unknown as ServerUnaryCall<unknown, unknown>, (err, res) => {
        if (err) reject(new Error(`CA refused the CSR for ${req.identity}: ${err.details ?? err.message}`));
        else if (!res?.certChain?.length) reject(new Error(`CA returned an empty chain for ${req.identity}`));
        else resolve(res.certChain);
      }),
    );
  }

  #authenticate(call: ServerDuplexStream<unknown, unknown>): XdsCaller | Error {
    return this.#authenticateMetadata(call.metadata);
  }

  #authenticateMetadata(metadata: Metadata): XdsCaller | Error {
    if (!this.#tokens) return new Error('control plane is starting');
    try {
      const caller = authenticate(metadata, this.#tokens);
      return caller.kind === 'node' ? { kind: 'node', name: caller.node } : { kind: caller.kind, name: `${caller.namespace}/${caller.name}` };
    } catch (err) {
      return err instanceof CaRefusal ? new Error(err.message) : (err as Error);
    }
  }

  #lastVersion = -1;
  #onSnapshot(snap: MeshSnapshot): void {
    const errors = snap.issues.filter((i) => i.severity === 'error');
    this.metrics.configVersion.set(snap.version);
    this.metrics.configErrors.set({ severity: 'error' }, errors.length);
    this.metrics.configErrors.set({ severity: 'warning' }, snap.issues.length - errors.length);
    if (snap.version !== this.#lastVersion) {
      this.#lastVersion = snap.version;
      this.#log(JSON.stringify({ msg: 'config', version: snap.version, services: snap.services.length, workloads: snap.workloads.length, errors: errors.length }));
      this.#ads.update(snap);
    }
    for (const e of errors) this.#log(`config error: ${formatIssue(e)}`);
  }

  async stop(): Promise<void> {
    this.#ready = false;
    await this.#source.stop();
    this.#ads.close();
    await Promise.all([
      ...this.#lazyPorts.map((p) => p.close()),
      new Promise<void>((r) => (this.#grpcPlain ? this.#grpcPlain.tryShutdown(() => r()) : r())),
      new Promise<void>((r) => (this.#grpcSecure ? this.#grpcSecure.tryShutdown(() => r()) : r())),
      new Promise<void>((r) => (this.#http ? this.#http.close(() => r()) : r())),
    ]);
    this.#grpcPlain?.forceShutdown();
    this.#grpcSecure?.forceShutdown();
    this.#http?.closeAllConnections();
  }
}

/**
 * Checks a proxy's node against its join token (15012 streams and REST xDS): a node proxy names its
 * node in metadata (NODE_NAME, as Istio's proxies do) and it must be the token's; a gateway or
 * waypoint is scoped by the NAMESPACE/NAME and WEFT_ROLE it sends, and they must be its token's, or
 * one gateway's token would read another's listeners and secrets; a node token may not claim an L7 role.
 */
function admitNode(node: NodeInfo, caller: XdsCaller | undefined): Error | undefined {
  const want = node.metadata['NODE_NAME'];
  if (caller?.kind === 'node' && typeof want === 'string' && want !== caller.name) {
    return new Error(`node name ${want} differs from the join token's node ${String(caller.name)}`);
  }
  const role = node.metadata['WEFT_ROLE'];
  if (role !== undefined) {
    const claimed = `${String(node.metadata['NAMESPACE'])}/${String(node.metadata['NAME'])}`;
    if (caller?.kind !== role || caller.name !== claimed) {
      return new Error(`${String(role)} ${claimed} is not what the join token names (${caller ? `${caller.kind} ${caller.name}` : 'no token'})`);
    }
  }
  return undefined;
}

/** The Kubernetes source, writing Gateway API status back from the snapshots of `store`. */
async function kubernetes(store: ConfigStore, choice: { kubeconfig?: string }, log?: (line: string) => void): Promise<ConfigSource> {
  const source = (await import('../config/kubernetes-source.ts')).kubernetesSource({ ...choice, ...(log ? { log } : {}) });
  source.writeStatus((fn) => store.subscribe(fn));
  return source;
}

function bind(server: Server, address: string, creds: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => {
      if (err) reject(new Error(`cannot listen on ${address}: ${err.message}`));
      else resolve(port);
    });
  });
}

/** IP SANs of the serving certificate: the listen address, or every local address when it is a wildcard. */
function servingAddresses(listen: string): string[] {
  if (listen !== '0.0.0.0' && listen !== '::') return [listen, '127.0.0.1'];
  const out = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.split('%')[0]!);
  return [...out];
}

