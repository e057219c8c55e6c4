/**
 * `weft up [--config DIR] [--mesh FILE] [--capture iptables|none] [--state DIR]` (design.md 1): the
 * control plane, the node proxy of one node and an ingress gateway in one process, on the embedded
 * sample mesh (with echo backends) unless `--config` is given. Prints where to look once ready.
 */
import v8 from 'node:v8';
import type { Command } from 'commander';
import { port, stderrLog } from './flags.ts';

interface UpFlags {
  config?: string;
  mesh?: string;
  capture: string | boolean;
  outboundPort: string;
  wasmTier: string;
  state?: string;
  listen: string;
  controlListen: string;
  nodeName: string;
  gateway?: string;
  xdsPort: string;
  securePort: string;
  httpPort: string;
  adminPort: string;
  statsPort: string;
  readyPort: string;
  socksPort: string;
  dnsPort: string;
  portOffset: string;
  accessLog?: string;
  verbose?: boolean;
  pageOut: boolean;
}

export function register(program: Command): void {
  program
    .command('up')
    .description('run the whole mesh in one process: control plane, node proxy and ingress gateway (the embedded sample mesh by default)')
    .option('--config <dir>', 'directory of YAML; the embedded sample mesh (with in-process echo backends) when left out')
    .option('--mesh <file>', 'a MeshConfig YAML file')
    .option('--capture [mode]', "transparent capture of this device's connections to mesh services: iptables (needs root) or none; --capture alone means iptables", 'none')
    .option('--outbound-port <port>', 'with --capture: the node proxy port the captured connections are redirected to', '15001')
    .option('--state <dir>', 'state directory: self-signed CA and token key (default $WEFT_STATE_DIR, else /var/lib/weft as root, else ~/.local/state/weft)')
    .option('--listen <host>', "the proxies' listeners (HBONE, SOCKS5, DNS, gateway listeners) and admin/stats/ready", '127.0.0.1')
    .option('--control-listen <host>', "the control plane's TLS xDS/CA port and HTTP port (0.0.0.0 for node proxies on other machines)", '127.0.0.1')
    .option('--node-name <name>', 'the node this process serves (the sample: local)', 'local')
    .option('--gateway <ns/name>', 'the gateway it runs (default demo/istio-ingressgateway on the sample, else istio-system/istio-ingressgateway); labels istio=ingressgateway')
    .option('--xds-port <port>', 'plaintext xDS', '15010')
    .option('--secure-port <port>', 'xDS + CA over TLS', '15012')
    .option('--http-port <port>', "the control plane's metrics, debug and readiness", '15014')
    .option('--admin-port <port>', 'admin (/config_dump)', '15000')
    .option('--stats-port <port>', 'Prometheus stats', '15020')
    .option('--ready-port <port>', 'readiness', '15021')
    .option('--socks-port <port>', 'SOCKS5 and HTTP CONNECT', '15080')
    .option('--dns-port <port>', 'DNS proxy', '15053')
    .option('--port-offset <n>', "moves the sample's ingress (8080, 8081) and backend (18080, 18081) ports, e.g. to run beside another weft up", '0')
    .option('--access-log <file>', "the node proxy's JSON access log (default stdout)")
    .option('--wasm-tier <tier>', "plugins' WebAssembly code: baseline (V8's Liftoff only: about 13 MB less RSS per QuickJS plugin, 0-3 us more per call) or optimizing (Liftoff, then TurboFan for hot code)", 'baseline')
    .option('--no-page-out', 'keep start-up code resident (by default, after start and when the process falls quiet after traffic, pages of the node executable and libraries no other process maps go back to the kernel, read again from disk if used)')
    .option('-v, --verbose', 'debug logs on stderr')
    .action(async (f: UpFlags) => {
      if (f.wasmTier !== 'baseline' && f.wasmTier !== 'optimizing') throw new Error(`--wasm-tier is baseline or optimizing, not ${f.wasmTier}`);
      // V8 lets the old generation grow to up to 4x what the last full GC left live; request objects
      // promoted early (the launcher's 1 MB semi-spaces) then pile up as garbage: -9 to -19 MB of
      // RSS at 1,000 req/s, no CPU cost measured (docs/benchmarks.md, "weft up memory"). V8 reads it
      // at each GC, so set here it applies however `weft up` is started (launcher, plain node, binary).
      v8.setFlagsFromString('--heap-growing-percent=20');
      // read by the plugin loader before its first compile (plugins/runtime/compile-component.ts)
      process.env.WEFT_WASM_TIER = f.wasmTier;
      const capture = f.capture === true ? 'iptables' : f.capture;
      if (capture !== 'iptables' && capture !== 'none') throw new Error(`--capture is iptables or none, not ${String(capture)}`);
      const offset = Number(f.portOffset);
      if (!Number.isInteger(offset) || offset < 0 || offset + 18081 > 65535) throw new Error(`--port-offset is a small non-negative integer, not ${f.portOffset}`);
      const gw = f.gateway ?? (f.config ? 'istio-system/istio-ingressgateway' : 'demo/istio-ingressgateway');
      const [namespace, name, extra] = gw.split('/');
      if (!namespace || !name || extra !== undefined) throw new Error(`--gateway is NAMESPACE/NAME, not ${gw}`);
      const { startUp } = await import('../up/run.ts');
      const { banner } = await import('../up/banner.ts');
      const log = stderrLog(f.verbose);
      const up = await startUp({
        ...(f.config ? { configDir: f.config } : {}),
        ...(f.mesh ? { meshFile: f.mesh } : {}),
        ...(f.state ? { stateDir: f.state } : {}),
        listen: f.listen,
        controlListen: f.controlListen,
        nodeName: f.nodeName,
        gateway: { namespace, name, labels: { istio: 'ingressgateway' } },
        ports: {
          xds: port(f.xdsPort),
          secure: port(f.securePort),
          http: port(f.httpPort),
          admin: port(f.adminPort),
          stats: port(f.statsPort),
          ready: port(f.readyPort),
          socks: port(f.socksPort),
          dns: port(f.dnsPort),
        },
        portOffset: offset,
        ...(capture === 'iptables' ? { capture: { outboundPort: port(f.outboundPort) } } : {}),
        ...(f.accessLog ? { accessLog: f.accessLog } : {}),
        log: (level, message) => (level === 'info' && !f.verbose ? undefined : log(level, message)),
      });
      let stopping = false;
      const stop = async (): Promise<void> => {
        if (stopping) return;
        stopping = true;
        await up.stop(2000);
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
      await up.ready;
      const readyMs = performance.now(); // since the process started (performance.timeOrigin)
      // what start-up freed (V8's parse and compile zones: 20-30 MB of glibc heap when the program is
      // loaded from files without a code cache) goes back before the banner reports the RSS
      (await import('../capture/original-dst.ts')).trimMalloc();
      (await import('../capture/memory-release.ts')).scheduleMemoryRelease({ pageOut: f.pageOut });
      process.stdout.write(banner({ up, listen: f.listen, controlListen: f.controlListen, ...(f.config ? { configDir: f.config } : {}), gateway: gw, readyMs, rssBytes: process.memoryUsage.rss(), weft: 'weft' }));
    });
}
