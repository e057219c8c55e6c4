/** What `weft up` prints once ready: what runs, where to look, what to try next. */
import type { Up } from './run.ts';
import { SAMPLE_HOSTS } from './sample.ts';

export interface BannerInput {
  up: Up;
  listen: string;
  controlListen: string;
  configDir?: string;
  gateway: string;
  readyMs: number;
  rssBytes: number;
  /** How this program is invoked (`weft`, or `node dist/weft.mjs`). */
  weft: string;
}

export function banner(b: BannerInput): string {
  const { up, listen: h } = b;
  const cp = up.control;
  const snap = cp.snapshot;
  const ch = b.controlListen === '0.0.0.0' || b.controlListen === '::' ? '127.0.0.1' : b.controlListen;
  const s = up.sample;
  const errors = snap.issues.filter((i) => i.severity === 'error').length;
  const stateFlag = ` --control-http http://${ch}:${cp.ports.http}`;
  const lines = [
    `weft up: control plane, node proxy and gateway in one process, ready in ${Math.round(b.readyMs)} ms (RSS ${Math.round(b.rssBytes / 2 ** 20)} MB)`,
    `  config          ${b.configDir ?? 'the embedded sample mesh (namespace demo: services echo and hello, an ingress, an AuthorizationPolicy, a rate-limit plugin)'}; version ${snap.version}, ${snap.services.length} services, ${snap.workloads.length} workloads, ${errors} errors`,
    `  control plane   xDS ${'127.0.0.1'}:${cp.ports.xds} (plaintext), ${ch}:${cp.ports.secure} (TLS + CA)   http://${ch}:${cp.ports.http}/debug/configz  /debug/syncz  /metrics`,
    `                  state ${cp.stateDir}, root certificate ${cp.rootCertPath}`,
    `  node proxy      node "${up.node.config.nodeName}": HBONE ${h}:${up.ports.hbone}, SOCKS5/CONNECT ${h}:${up.ports.socks}, DNS ${h}:${up.ports.dns}`,
    up.captured
      ? `  capture         iptables: connections to ${up.captured().length} service address(es) go to ${'127.0.0.1'}:${up.ports.outbound} (chain WEFT_UP_OUTPUT, removed on exit)`
      : `  capture         off: local programs join by SOCKS5 or HTTP CONNECT on ${h}:${up.ports.socks} (or run with --capture, as root)`,
    `  gateway         ${b.gateway} (labels ${Object.entries(up.gateway.config.labels).map(([k, v]) => `${k}=${v}`).join(', ')}), identity ${up.gateway.identity}`,
  ];
  if (s) {
    lines.push(
      `  ingress         http://${h}:${s.istioIngress}/echo  http://${h}:${s.istioIngress}/hello   (Istio Gateway demo/ingress + VirtualService, any Host)`,
      `                  http://${h}:${s.gatewayApi}/echo  http://${h}:${s.gatewayApi}/hello   (Gateway API Gateway demo/web + HTTPRoute)`,
      `  backends        echo ${SAMPLE_HOSTS.echo}:${s.echo}, hello ${SAMPLE_HOSTS.hello}:${s.hello}: in-process echo servers, reached over HBONE mTLS through the node proxy`,
    );
  } else {
    lines.push(`  ingress         the listeners of the Gateways it serves: ${b.weft} proxy-config listeners ${b.gateway.split('/').reverse().join('.')}${stateFlag}`);
  }
  lines.push(
    `  admin           http://${h}:${up.ports.admin}/config_dump (node proxy)  http://${h}:${up.ports.admin}/gateway/config_dump (gateway)`,
    `  stats           http://${h}:${up.ports.stats}/stats/prometheus`,
    `  ready           http://${h}:${up.ports.ready}/healthz/ready`,
    '',
    'Next, try:',
  );
  const gw = b.gateway.split('/').reverse().join('.');
  if (s) {
    const url = `http://${h}:${s.istioIngress}`;
    lines.push(
      `  curl -s ${url}/echo/hi                         # through the ingress, over mTLS, to the echo backend (it answers with what it saw)`,
      up.captured
        ? `  curl -s http://240.240.0.10/hi -H 'host: echo.demo.svc.cluster.local'   # captured: straight to the echo Service's address, over the mesh`
        : `  curl -s -x socks5h://${h}:${up.ports.socks} http://echo.demo.svc.cluster.local/hi   # as a mesh client, by SOCKS5 (the node proxy resolves the name)`,
      `  curl -s ${h}:${up.ports.stats}/stats/prometheus | grep 'connection_security_policy="mutual_tls"'   # the hop to the backend was mTLS`,
      `  curl -s -Z --parallel-max 50 -o /dev/null -w '%{http_code}\\n' "${url}/echo/[1-400]" 2>/dev/null | sort | uniq -c   # rate-limit plugin: 429 past a burst of 200`,
      `  ${b.weft} proxy-config policy node/local${stateFlag}      # the AuthorizationPolicy the node proxy enforces (denies namespace quarantine)`,
      `  ${b.weft} proxy-config routes ${gw}${stateFlag}   # the gateway's routes`,
    );
  } else {
    lines.push(`  ${b.weft} proxy-config routes ${gw}${stateFlag}`, `  ${b.weft} proxy-config workload node/${up.node.config.nodeName}${stateFlag}`);
  }
  lines.push(`  ${b.weft} analyze ${b.configDir ?? 'DIR'}                      # validate a directory of YAML before serving it with --config`, '');
  return lines.join('\n');
}
