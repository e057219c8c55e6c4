/**
 * `weft control`: run the control plane on a directory of YAML, on the Kubernetes API (`--kubernetes`),
 * or on the embedded sample mesh when neither is given (design.md 1). Stops cleanly on SIGINT/SIGTERM.
 */
import type { Command } from 'commander';
import { port } from './flags.ts';

interface ControlFlags {
  config?: string;
  kubernetes?: boolean;
  kubeconfig?: string;
  mesh?: string;
  cacerts?: string;
  state?: string;
  listen: string;
  xdsListen: string;
  xdsPort: string;
  securePort: string;
  httpPort: string;
}

export function register(program: Command): void {
  program
    .command('control')
    .description('run the control plane: config validation, certificate authority, xDS server')
    .option('--config <dir>', 'directory of YAML (Istio, Gateway API, Inference Extension, core v1); the embedded sample mesh when left out')
    .option('--kubernetes', 'read the config from the Kubernetes API (list/watch; in a pod, its service account) instead of a directory')
    .option('--kubeconfig <file>', 'with --kubernetes: the kubeconfig file (default: in a pod its service account, else KUBECONFIG or ~/.kube/config)')
    .option('--mesh <file>', 'a MeshConfig YAML file (trustDomain, outboundTrafficPolicy, ...)')
    .option('--cacerts <dir>', "a plugged-in CA (Istio's ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem)")
    .option('--state <dir>', 'state directory: self-signed CA and token key (default $WEFT_STATE_DIR, else /var/lib/weft as root, else ~/.local/state/weft)')
    .option('--listen <host>', 'address of the TLS xDS/CA port and the HTTP port', '0.0.0.0')
    .option('--xds-listen <host>', 'address of the plaintext xDS port', '127.0.0.1')
    .option('--xds-port <port>', 'plaintext xDS port', '15010')
    .option('--secure-port <port>', 'xDS + CA over TLS (join token required)', '15012')
    .option('--http-port <port>', 'metrics, debug and readiness', '15014')
    .action(async (flags: ControlFlags) => {
      if (flags.config && flags.kubernetes) program.error('error: --config and --kubernetes name two config sources: pass one of them');
      if (flags.kubeconfig && !flags.kubernetes) program.error('error: --kubeconfig needs --kubernetes');
      const { ControlPlane } = await import('../control/control-plane.ts');
      const cp = await ControlPlane.start({
        ...(flags.config ? { configDir: flags.config } : {}),
        ...(flags.kubernetes ? { kubernetes: { ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}) } } : {}),
        ...(flags.mesh ? { meshFile: flags.mesh } : {}),
        ...(flags.cacerts ? { cacertsDir: flags.cacerts } : {}),
        ...(flags.state ? { stateDir: flags.state } : {}),
        listen: flags.listen,
        xdsListen: flags.xdsListen,
        xdsPort: port(flags.xdsPort),
        securePort: port(flags.securePort),
        httpPort: port(flags.httpPort),
      });
      const snap = cp.snapshot;
      const errors = snap.issues.filter((i) => i.severity === 'error').length;
      const host = flags.listen === '0.0.0.0' ? '127.0.0.1' : flags.listen;
      console.log(
        [
          `weft control is serving ${flags.config ? `config from ${flags.config}` : flags.kubernetes ? `config from Kubernetes (${cp.sourceId.replace(/^k8s:/, '')})` : 'the embedded sample mesh'} (version ${snap.version}: ${snap.services.length} services, ${snap.workloads.length} workloads, ${errors} errors, ${snap.issues.length - errors} warnings)`,
          `  xDS (plaintext)   ${flags.xdsListen}:${cp.ports.xds}`,
          `  xDS + CA (TLS)    ${flags.listen}:${cp.ports.secure}   root certificate: ${cp.rootCertPath}`,
          `  HTTP              http://${host}:${cp.ports.http}/debug/configz  /debug/status  /debug/syncz  /metrics  /ready`,
          `  state             ${cp.stateDir}`,
          `Next: weft token create --node <name>${flags.state ? ` --state ${flags.state}` : ''}   (a join token for a node proxy)`,
        ].join('\n'),
      );
      const stop = async () => {
        await cp.stop();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
