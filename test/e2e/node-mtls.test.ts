/**
 * e2e (issue 3's Tests): the real `weft control` and two `weft node` processes in the netns topology,
 * pods enrolled with `weft cni add`, an unmodified curl in pod A reaching the echo Service, whose
 * only endpoint is pod C on the other node (the issue's "pod B": it sits across the bridge so the
 * bytes cross the wire). Proves mTLS on the wire (tcpdump: TLS on 15008, never the plaintext), A's
 * identity at the destination, then L4 policy (DENY, ALLOW), STRICT PeerAuthentication, and the
 * ambient label toggled without a restart. Each case is bounded; `destroy()` always cleans up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEFT_BIN, weftSync } from '../support/weft-process.ts';
import { captureBridge, isTlsRecord, type TcpPacket } from './bridge-capture.ts';
import { ECHO_PORT, ECHO_VIP, echoPolicyYaml, namespaceYaml, PODS, principal, spiffe, strictYaml, withFile, writeMeshConfig } from './mesh-config.ts';
import { cniAdd, httpOk, startEcho, startMesh, until, type RunningMesh } from './mesh-processes.ts';
import { cleanupStale, createTopology, e2eUnsupportedReason, type Topology } from './topology.ts';

/** Skip only when the command itself is missing; a built bundle without `weft node` is not a pass. */
function nodeCommandMissing(): string | undefined {
  if (!existsSync(WEFT_BIN)) return undefined; // assertBuilt fails the run: npm test builds first
  return weftSync(['node', '--help']).status === 0 ? undefined : 'weft node not built yet';
}
const reason = e2eUnsupportedReason() ?? nodeCommandMissing();
if (reason) console.warn(`test/e2e/node-mtls.test.ts skipped: ${reason}`);

const URL_VIP = `http://${ECHO_VIP}/`;
const MARKER = 'weft-plaintext-marker-7f3a';

describe.skipIf(reason !== undefined)('node proxies: mTLS between pods, identity, L4 policy', () => {
  let topo: Topology;
  let dir: string;
  let mesh: RunningMesh;
  const config = () => join(dir, 'config');
  const curl = (from: 'a' | 'b' | 'd', url: string, path = '/') => topo.exec(topo.pods[from], 'curl', ['-sS', '--max-time', '3', `${url.replace(/\/$/, '')}${path}`], { timeoutMs: 8000 });
  const logs = () => [...mesh.output].map(([k, f]) => `--- ${k}\n${f().slice(-3000)}`).join('\n');

  beforeAll(async () => {
    await cleanupStale();
    topo = await createTopology();
    dir = await mkdtemp(join(tmpdir(), 'weft-e2e-mtls-'));
    await mkdir(config());
    await writeMeshConfig(config(), topo);
    mesh = await startMesh(topo, dir);
    await startEcho(topo, topo.pods.c, ECHO_PORT);
    for (const name of ['a', 'b', 'c', 'd'] as const) cniAdd(dir, topo.pods[name], PODS[name].ns);
    await until('curl from pod a to the echo VIP', 20_000, () => httpOk(topo, topo.pods.a, URL_VIP), logs);
  }, 90_000);

  afterAll(async () => {
    await topo?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('carries curl from pod A to the echo VIP in mutual TLS over 15008, never in plaintext', async () => {
    const cap = await captureBridge(topo, ['tcp']);
    let body = '';
    let packets: TcpPacket[] = [];
    try {
      const r = await curl('a', URL_VIP, `/${MARKER}`);
      expect(r.stderr).toBe('');
      body = r.stdout;
    } finally {
      packets = await cap.stop();
    }
    const echo = JSON.parse(body) as { pod: string; path: string };
    expect(echo).toMatchObject({ pod: 'c', path: `/${MARKER}` });
    const data = packets.filter((p) => p.payload.length > 0);
    expect(data.some((p) => (p.dport === 15008 || p.sport === 15008) && isTlsRecord(p.payload))).toBe(true);
    expect(data.filter((p) => p.payload.includes(MARKER)).map((p) => `${p.src}:${p.sport} > ${p.dst}:${p.dport}`)).toEqual([]);
    const appPorts = new Set([80, ECHO_PORT]);
    expect(packets.filter((p) => appPorts.has(p.dport) || appPorts.has(p.sport)).length).toBe(0); // the app's ports never cross
  }, 30_000);

  it("shows A's SPIFFE identity as the source principal at C's node proxy (metrics and access log)", async () => {
    const a = spiffe('default', 'client-a');
    await until("node2's metrics naming A as source principal", 10_000, async () => {
      const r = await topo.exec(topo.net, 'curl', ['-sf', '--max-time', '2', `http://${topo.nodes.node2.ip}:15020/stats/prometheus`]);
      return r.stdout.split('\n').some((l) => l.startsWith('istio_tcp_connections_opened_total') && l.includes('reporter="destination"') && l.includes(`source_principal="${a}"`) && l.includes('connection_security_policy="mutual_tls"'));
    }, logs);
    await until("node2's access log naming A", 10_000, async () => mesh.output.get('node2')!().split('\n').some((l) => l.startsWith('{') && l.includes(a)), logs);
  }, 30_000);

  it('proxy-config and version read the running proxies through the control plane', async () => {
    const secret = await mesh.weftInNet(['proxy-config', 'secret', 'a.default', '-o', 'json', '--control-http', mesh.controlHttp]);
    expect(secret.stderr).toBe('');
    const pem = Buffer.from(JSON.parse(secret.stdout).dynamicActiveSecrets[0].secret.tlsCertificate.certificateChain.inlineBytes, 'base64').toString();
    const text = await topo.exec(topo.net, 'openssl', ['x509', '-noout', '-text'], { input: pem });
    expect(text.stdout).toContain(`URI:${spiffe('default', 'client-a')}`);
    const table = await mesh.weftInNet(['proxy-config', 'workload', 'node/node2', '--control-http', mesh.controlHttp]);
    expect(table.stdout).toMatch(new RegExp(`^default\\s+c\\s+${topo.pods.c.ip.replace(/\./g, '\\.')}\\s+node2\\s+None\\s+HBONE$`, 'm'));
    const version = await mesh.weftInNet(['version', '--control-http', mesh.controlHttp]);
    const v = /^client version: (\S+)\n/.exec(version.stdout)?.[1];
    expect(version.stdout).toBe(`client version: ${v}\ncontrol plane version: ${v}\ndata plane version: ${v} (2 proxies)\n`);
  }, 30_000);

  it('refuses A under a DENY policy naming it, while B still passes', async () => {
    const remove = await withFile(config(), 'deny-a.yaml', echoPolicyYaml('deny-a', 'DENY', [principal('default', 'client-a')]));
    try {
      await until('the DENY policy to refuse pod a', 10_000, async () => !(await httpOk(topo, topo.pods.a, URL_VIP)), logs);
      expect(await httpOk(topo, topo.pods.b, URL_VIP)).toBe(true);
    } finally {
      await remove();
    }
    await until('pod a to pass again once the policy is gone', 10_000, () => httpOk(topo, topo.pods.a, URL_VIP), logs);
  }, 40_000);

  it('permits only the named principal under an ALLOW policy', async () => {
    const remove = await withFile(config(), 'allow-b.yaml', echoPolicyYaml('allow-b', 'ALLOW', [principal('default', 'client-b')]));
    try {
      await until('the ALLOW policy to refuse pod a', 10_000, async () => !(await httpOk(topo, topo.pods.a, URL_VIP)), logs);
      expect(await httpOk(topo, topo.pods.b, URL_VIP)).toBe(true);
    } finally {
      await remove();
    }
    await until('pod a to pass again', 10_000, () => httpOk(topo, topo.pods.a, URL_VIP), logs);
  }, 40_000);

  it('refuses plaintext from outside the mesh under STRICT, allows it under PERMISSIVE', async () => {
    const direct = `http://${topo.pods.c.ip}:${ECHO_PORT}/`; // pod d is in `legacy`, not in the mesh: plaintext
    await until('plaintext from pod d under PERMISSIVE', 10_000, () => httpOk(topo, topo.pods.d, direct), logs);
    const remove = await withFile(config(), 'strict.yaml', strictYaml);
    try {
      await until('STRICT to refuse plaintext from pod d', 10_000, async () => !(await httpOk(topo, topo.pods.d, direct)), logs);
      expect(await httpOk(topo, topo.pods.a, URL_VIP)).toBe(true); // mTLS from a still passes
    } finally {
      await remove();
    }
    await until('plaintext from pod d again', 10_000, () => httpOk(topo, topo.pods.d, direct), logs);
  }, 40_000);

  it('takes the namespace out of the mesh and back by its label, with no restart', async () => {
    const natHasCapture = async () => (await topo.exec(topo.pods.a, 'iptables-save', ['-t', 'nat'])).stdout.includes('WEFT_INPOD');
    expect(await natHasCapture()).toBe(true);
    try {
      await writeFile(join(config(), 'namespaces.yaml'), namespaceYaml(false));
      await until("pod a's capture rules to go", 10_000, async () => !(await natHasCapture()), logs);
      expect(await httpOk(topo, topo.pods.a, URL_VIP)).toBe(false); // a VIP means nothing without capture
    } finally {
      await writeFile(join(config(), 'namespaces.yaml'), namespaceYaml(true));
    }
    await until("pod a's capture rules to return", 10_000, natHasCapture, logs);
    await until('pod a to reach the VIP again', 10_000, () => httpOk(topo, topo.pods.a, URL_VIP), logs);
  }, 40_000);
});
