/**
 * e2e (issue 3, ALLOW_ANY passthrough as ztunnel's in-pod mode does it): the real `weft control` and
 * two `weft node` processes in the netns topology (as node-resilience.test.ts builds it), an
 * unmodified curl in pod A (enrolled, captured). A destination outside the mesh must see pod A's own
 * IP, not node1's: node1 dials the passthrough from inside pod A's network namespace, with a socket
 * marked 0x539 so pod A's capture rules let it out instead of redirecting it to 15001 again.
 *  - an HTTP server on the bridge (in no registry) and one in pod D (a workload outside the mesh)
 *    report the peer address of each request: 10.244.1.10 (pod A), never 10.250.0.11 (node1);
 *  - node1's access log has exactly one outbound plaintext line per request (a recaptured dial would
 *    loop through 15001 and log more), and pod A's mark-exemption rule counted the dials;
 *  - a SOCKS5 entry (no pod namespace) still dials from the node, even for pod A's request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OUTPUT_CHAIN } from '../../hosts/node/capture/iptables.ts';
import { WEFT_BIN, weftSync } from '../support/weft-process.ts';
import { ECHO_PORT, ECHO_VIP, PODS, writeMeshConfig } from './mesh-config.ts';
import { httpOk, startEcho, startMesh, until, type RunningMesh } from './mesh-processes.ts';
import { cniAddAll, meshConfigMap, nodeDump, startOutsideServer } from './mesh-resilience.ts';
import { cleanupStale, createTopology, e2eUnsupportedReason, type Topology } from './topology.ts';

function nodeCommandMissing(): string | undefined {
  if (!existsSync(WEFT_BIN)) return undefined; // assertBuilt fails the run: npm test builds first
  return weftSync(['node', '--help']).status === 0 ? undefined : 'weft node not built yet';
}
const reason = e2eUnsupportedReason() ?? nodeCommandMissing();
if (reason) console.warn(`test/e2e/passthrough-source.test.ts skipped: ${reason}`);

const OUTSIDE_PORT = 18080;
const POD_D_PORT = 18081;

type Hits = Awaited<ReturnType<typeof startOutsideServer>>;

interface AccessLine {
  direction: string;
  via: string;
  src: { addr: string };
  dst: { addr: string; hbone_addr?: string };
  connection_security_policy: string;
  response_flags: string;
}

describe.skipIf(reason !== undefined)('ALLOW_ANY passthrough is dialled from the pod\'s own network namespace', () => {
  const f = {} as { topo: Topology; dir: string; mesh: RunningMesh; outside: Hits; inD: Hits };
  const logs = () => [...f.mesh.output].map(([k, out]) => `--- ${k}\n${out().slice(-3000)}`).join('\n');
  /** node1's access-log lines (JSON) whose destination is `addr`. */
  const node1Lines = (addr: string): AccessLine[] =>
    f.mesh.output
      .get('node1')!()
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes(`"addr":"${addr}"`))
      .map((l) => JSON.parse(l) as AccessLine)
      .filter((l) => l.dst.addr === addr);
  /** Packets (first of each connection, nat table) pod A's mark-exemption rule returned. */
  const markReturns = async (): Promise<number> => {
    const r = await f.topo.exec(f.topo.pods.a, 'iptables', ['-w', '5', '-t', 'nat', '-L', OUTPUT_CHAIN, '-v', '-n', '-x'], { timeoutMs: 8000 });
    if (r.code !== 0) throw new Error(`iptables -L in pod a: ${r.stderr}`);
    const line = r.stdout.split('\n').find((l) => /mark match 0x539\/0xfff/.test(l) && /RETURN/.test(l));
    if (!line) throw new Error(`no mark rule in pod a's ${OUTPUT_CHAIN}:\n${r.stdout}`);
    return Number(line.trim().split(/\s+/)[0]);
  };

  beforeAll(async () => {
    await cleanupStale();
    f.topo = await createTopology();
    f.dir = await mkdtemp(join(tmpdir(), 'weft-e2e-passthrough-'));
    const config = join(f.dir, 'config');
    await mkdir(config);
    await writeMeshConfig(config, f.topo);
    await writeFile(join(config, 'meshconfig.yaml'), meshConfigMap('ALLOW_ANY'));
    f.mesh = await startMesh(f.topo, f.dir);
    await startEcho(f.topo, f.topo.pods.c, ECHO_PORT);
    await cniAddAll(f.dir, (['a', 'b', 'c', 'd'] as const).map((pod) => ({ pod: f.topo.pods[pod], namespace: PODS[pod].ns })));
    // pod a captured and the mesh working (the VIP only answers through capture)
    await until('curl from pod a to the echo VIP', 20_000, () => httpOk(f.topo, f.topo.pods.a, `http://${ECHO_VIP}/`), logs);
    await until('node1 to hold outboundTrafficPolicy ALLOW_ANY', 10_000, async () => (await nodeDump(f.topo, f.topo.nodes.node1)).mesh.outboundPolicy === 'ALLOW_ANY', logs);
    // servers that report each request's peer address: on the bridge (in no registry) and in pod d
    f.outside = await startOutsideServer(f.topo, f.topo.net, f.topo.net.ip, OUTSIDE_PORT);
    f.inD = await startOutsideServer(f.topo, f.topo.pods.d, f.topo.pods.d.ip, POD_D_PORT);
  }, 90_000);
  afterAll(async () => {
    await f.topo?.destroy();
    if (f.dir) await rm(f.dir, { recursive: true, force: true });
  }, 30_000);

  it('a destination outside the mesh sees pod A\'s IP, the dial is not recaptured, and node1 logs it as plaintext passthrough', async () => {
    const { topo } = f;
    const podA = topo.pods.a.ip;
    const curlA = (url: string) => topo.exec(topo.pods.a, 'curl', ['-sS', '--max-time', '5', url], { timeoutMs: 10_000 });
    const marksBefore = await markReturns();

    const targets = [
      { addr: `${topo.net.ip}:${OUTSIDE_PORT}`, server: f.outside, what: 'the bridge (no registry)' },
      { addr: `${topo.pods.d.ip}:${POD_D_PORT}`, server: f.inD, what: 'pod d (a workload outside the mesh)' },
    ];
    for (const t of targets) {
      for (let i = 1; i <= 2; i++) {
        const r = await curlA(`http://${t.addr}/from-a-${i}`);
        expect(r.code, `${t.what}, request ${i}: ${r.stderr}\n${logs()}`).toBe(0);
        const body = JSON.parse(r.stdout) as { path: string; source: string };
        expect(body.path).toBe(`/from-a-${i}`);
        // dialled from node1's namespace it would be node1's address, 10.250.0.11
        expect(body.source, `${t.what} saw ${body.source}`).toBe(podA);
      }
      expect(t.server.hits()).toEqual(['/from-a-1', '/from-a-2']);
      // one outbound plaintext line per request, from pod a: through node1, once (no loop via 15001)
      const lines = await until(`node1 to log 2 passthrough connections to ${t.addr}`, 5000, async () => {
        const l = node1Lines(t.addr);
        return l.length >= 2 && l;
      }, logs);
      await new Promise((r) => setTimeout(r, 300)); // a looping dial would keep adding lines
      expect(node1Lines(t.addr)).toHaveLength(2);
      for (const l of lines) {
        expect(l).toMatchObject({ direction: 'outbound', via: 'outbound', connection_security_policy: 'none', response_flags: '-' });
        expect(l.src.addr.startsWith(`${podA}:`)).toBe(true);
        expect(l.dst.hbone_addr).toBeUndefined();
      }
    }
    // each of the 4 dials left pod A's namespace by the mark rule (curl's own connections were redirected)
    expect((await markReturns()) - marksBefore).toBeGreaterThanOrEqual(4);
    expect(logs()).not.toMatch(/passthrough dialled from the node's namespace/);
  }, 60_000);

  it('a SOCKS5 entry has no pod namespace: its passthrough is dialled from the node', async () => {
    const { topo } = f;
    // curl in pod a through node1's 15080 (--listen 10.250.0.11); that connection is itself captured
    // and passed through (from pod a's namespace) to 15080, where pod a is the SOCKS5 client
    const r = await topo.exec(topo.pods.a, 'curl', ['-sS', '--max-time', '5', '--socks5', `${topo.nodes.node1.ip}:15080`, `http://${topo.net.ip}:${OUTSIDE_PORT}/socks`], { timeoutMs: 10_000 });
    expect(r.code, `${r.stderr}\n${logs()}`).toBe(0);
    expect((JSON.parse(r.stdout) as { source: string }).source).toBe(topo.nodes.node1.ip);
  }, 30_000);
});
