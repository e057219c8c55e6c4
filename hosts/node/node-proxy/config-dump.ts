/**
 * The admin `/config_dump` of a node proxy (shape documented in README.md, read by `weft
 * proxy-config` and the e2e tests): core/node's dump of the state, plus the node's own listeners,
 * xDS status, certificates (chains, serials, expiry; never keys) and enrolled pods.
 */
import { dumpNodeState } from '../../../core/node/index.ts';
import type { NodeProxyInputs } from './inputs.ts';
import type { EnrolledPod } from './enrolment.ts';

export interface ConfigDumpSources {
  inputs: NodeProxyInputs;
  ports: () => Record<string, number>;
  xds: () => { connected: boolean; versions: Record<string, string> };
  enrolled: () => EnrolledPod[];
  /** l4-policy plugins' status (plugin-host.ts) */
  plugins?: () => unknown[];
}

export function configDump(s: ConfigDumpSources): Record<string, unknown> {
  const { config, state, certificates } = s.inputs;
  return {
    node: { name: config.nodeName, listen: config.listen, capture: config.capture, ports: s.ports() },
    xds: { control: config.control, ...s.xds() },
    ...dumpNodeState(state.current),
    // CertificateListing carries chains and metadata only; AdminServer also redacts any key field
    certificates: certificates.list(),
    enrolled: s.enrolled(),
    ...(s.plugins ? { plugins: s.plugins() } : {}),
  };
}
