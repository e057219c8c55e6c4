/**
 * `weft up`'s composition: the control plane, the node proxy of one node and an ingress gateway in
 * one process. The proxies take their certificates from the CA in-process (the CA service's own
 * checks, no gRPC) and their xDS over in-memory streams to the same AdsServer a remote proxy reaches
 * (xds/in-memory.ts): one translation of one snapshot feeds everything, ACK/NACK and syncz included.
 * The control plane keeps its ports, so `weft proxy-config` and external node proxies work as usual
 * (its gRPC servers are made when something connects to 15010 or 15012: control/lazy-grpc-port.ts).
 */
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Caller } from '../../../core/identity/index.ts';
import { ControlPlane } from '../control/control-plane.ts';
import type { CertificateSigner } from '../certs/index.ts';
import type { DeltaTransport } from '../xds/delta-client-base.ts';
import { NodeProxy, DEFAULT_PORTS } from '../node-proxy/index.ts';
import { L7Proxy } from '../l7-proxy/l7-proxy.ts';
import { startEchoBackends } from './echo-backends.ts';
import { SAMPLE_HOSTS, sampleWithOffset, type SamplePorts } from './sample.ts';
import { GATEWAY_ADMIN_PREFIX, startSideServers } from './side-servers.ts';
import { startHostCapture, type StartedCapture } from './capture-wiring.ts';

export interface UpOptions {
  configDir?: string;
  meshFile?: string;
  stateDir?: string;
  /** Address of the proxies' listeners and of the admin/stats/ready set. */
  listen: string;
  /** Address of the control plane's TLS xDS/CA port and HTTP port. */
  controlListen: string;
  nodeName: string;
  gateway: { namespace: string; name: string; labels: Record<string, string> };
  ports: { xds: number; secure: number; http: number; admin: number; stats: number; ready: number; socks: number; dns: number };
  /** Moves the embedded sample's ingress and backend ports (not with a config directory). */
  portOffset: number;
  accessLog?: string;
  /** `--capture`: REDIRECT the device's connections to service addresses to this node proxy port (host-capture.ts). */
  capture?: { outboundPort: number };
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void;
}

export interface Up {
  control: ControlPlane;
  node: NodeProxy;
  gateway: L7Proxy;
  ports: { admin: number; stats: number; ready: number; hbone: number; socks: number; dns: number; outbound?: number };
  /** With `--capture`: the service addresses whose connections are captured now, as `ip:port`. */
  captured?: () => readonly string[];
  /** Set when the embedded sample is served (backends started in-process). */
  sample?: SamplePorts;
  /** Resolves once both proxies are ready (config, certificates, listeners). */
  ready: Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

export async function startUp(o: UpOptions): Promise<Up> {
  const sample = o.configDir ? undefined : sampleWithOffset(o.portOffset);
  const echoes: Promise<Server[]> = sample
    ? startEchoBackends([
        { service: 'echo', host: SAMPLE_HOSTS.echo, port: sample.ports.echo },
        { service: 'hello', host: SAMPLE_HOSTS.hello, port: sample.ports.hello },
      ])
    : Promise.resolve([]);
  echoes.catch(() => {}); // awaited below; a failure there stops the start
  const control = await ControlPlane.start({
    ...(o.configDir ? { configDir: o.configDir } : { files: sample!.files, debounceMs: 10 }),
    ...(o.meshFile ? { meshFile: o.meshFile } : {}),
    ...(o.stateDir ? { stateDir: o.stateDir } : {}),
    listen: o.controlListen,
    xdsListen: '127.0.0.1',
    xdsPort: o.ports.xds,
    securePort: o.ports.secure,
    httpPort: o.ports.http,
    // 15010/15012 stay bound for proxies and tools outside; gRPC loads when one connects
    lazyGrpc: true,
    log: (line) => o.log('info', line),
  });
  const trustDomain = control.snapshot.mesh.trustDomain;
  const inProcess = (caller: Caller): { token: string; signer: CertificateSigner; xdsTransport: DeltaTransport } => {
    const token = control.createToken(caller);
    return { token, signer: { sign: (req) => control.signLocally(token, req) }, xdsTransport: (md) => control.openLocalAdsStream(md) };
  };
  // the side servers come first: the proxies report their address (ADMIN_ADDRESS) when xDS starts
  let node: NodeProxy | undefined;
  let gateway: L7Proxy | undefined;
  const readiness = (): true | string => {
    const n = node?.ready() ?? 'starting';
    if (n !== true) return `node proxy: ${n}`;
    const g = gateway?.ready() ?? 'starting';
    return g === true ? true : `gateway: ${g}`;
  };
  const side = await startSideServers({
    host: o.listen,
    ports: { admin: o.ports.admin, stats: o.ports.stats, ready: o.ports.ready },
    nodeDump: () => node?.configDump(),
    gatewayDump: () => gateway?.configDump(),
    metrics: [
      { metrics: () => node?.inputs.metrics.metrics() ?? '' },
      { metrics: () => node?.plugins.metrics.metrics() ?? '' },
      { metrics: () => gateway?.metrics.metrics() ?? '' },
      { metrics: () => gateway?.plugins.metrics.metrics() ?? '' },
    ],
    ready: readiness,
  }).catch(async (e: Error) => {
    await control.stop();
    throw e;
  });
  const adminAddress = `${o.listen}:${side.ports.admin}`;
  // plugins prepared by one run (jco in a child process) are reused by the next
  const pluginCache = { pluginCacheDir: join(control.stateDir, 'plugin-cache') };
  node = new NodeProxy({
    control: 'in-process',
    rootCertPem: control.rootCertPem,
    nodeName: o.nodeName,
    listen: o.listen,
    trustDomain,
    capture: 'none',
    ports: { ...DEFAULT_PORTS, admin: o.ports.admin, stats: o.ports.stats, ready: o.ports.ready, socks: o.ports.socks, dns: o.ports.dns },
    ...(o.accessLog ? { accessLog: o.accessLog } : {}),
    drainMs: 5000,
    log: o.log,
    ...inProcess({ kind: 'node', node: o.nodeName }),
    adminAddress,
    ...pluginCache,
  });
  gateway = new L7Proxy({
    role: 'gateway',
    ...o.gateway,
    control: 'in-process',
    rootCertPem: control.rootCertPem,
    trustDomain,
    listen: o.listen,
    ports: { admin: o.ports.admin, stats: o.ports.stats, ready: o.ports.ready },
    log: o.log,
    ...inProcess({ kind: 'gateway', namespace: o.gateway.namespace, name: o.gateway.name }),
    adminAddress: `http://${adminAddress}${GATEWAY_ADMIN_PREFIX}`,
    ...pluginCache,
  });
  const n = node;
  const g = gateway;
  let backends: Server[] = [];
  let capture: StartedCapture | undefined;
  try {
    backends = await echoes;
    await Promise.all([n.start(), g.start()]);
    // HBONE on every other backend address too (the node proxy's own listener is on `listen`)
    if (sample && SAMPLE_HOSTS.hello !== o.listen) await n.hboneServer.listen(n.ports.hbone!, SAMPLE_HOSTS.hello);
    if (o.capture) capture = await startHostCapture(control, n, o.capture.outboundPort, o.log);
  } catch (e) {
    await capture?.stop();
    await Promise.allSettled([n.drain(), g.drain(0), side.drain(), control.stop()]);
    for (const b of backends) b.close();
    throw e;
  }
  const ready = new Promise<void>((resolve) => {
    const check = (): void => void (readiness() === true ? resolve() : setTimeout(check, 5).unref());
    check();
  });
  return {
    control,
    node: n,
    gateway: g,
    ports: { ...side.ports, hbone: n.ports.hbone!, socks: n.ports.socks!, dns: n.ports.dns!, ...(capture ? { outbound: capture.port } : {}) },
    ...(capture ? { captured: capture.captured } : {}),
    ...(sample ? { sample: sample.ports } : {}),
    ready,
    stop: async (graceMs = 5000) => {
      await capture?.stop(); // first: the device's connections go direct again while the proxies drain
      await Promise.allSettled([n.drain(), g.drain(graceMs)]);
      await side.drain();
      for (const b of backends) b.close();
      await control.stop();
    },
  };
}
