/**
 * e2e (issue 3, DNS capture and IPv6): the real `weft control` and two `weft node` processes in the
 * netns topology, DNS capture on (the default). Pod A's resolv.conf names 10.96.0.10, an address
 * nothing serves: only the capture rule in A's namespace (UDP/TCP 53 -> the in-pod 127.0.0.1:15053)
 * can answer, which pod D (outside the mesh, same query) shows by getting no answer at all.
 * - a mesh FQDN resolves to its VIP over UDP and TCP, and `curl http://<fqdn>/` from A reaches pod C
 *   across the bridge in mTLS (TLS on 15008, never the plaintext);
 * - a name the mesh does not own is forwarded from node1's namespace to an upstream resolver on the
 *   bridge (a stub that logs who asked), and with no upstream reachable (node2) the answer is a
 *   SERVFAIL within the proxy's deadline rather than silence;
 * - IPv6: pods A and C and the bridge get v6 addresses (`nodad`, added here, not in the shared
 *   topology); A's ip6tables rules exist with the node's v6 link address exempted, a v6 DNS query is
 *   captured to [::1]:15053, and a v6 connection to a server outside the mesh is captured (15001 on
 *   ::1, original destination read) and passed through under ALLOW_ANY;
 * - after `weft cni del` A's rules (v4 and v6, DNS included) and in-pod DNS listeners are gone, and a
 *   new `weft cni add` brings them back.
 * `ip netns exec` bind-mounts /etc/netns/<name>/resolv.conf, so the files written there reach curl,
 * getent and the node proxies (spawned through `ip netns exec`); they are removed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEFT_BIN, weftSync } from '../support/weft-process.ts';
import { captureBridge, isTlsRecord, type TcpPacket } from './bridge-capture.ts';
import { ECHO_VIP, ECHO_PORT, PODS, writeMeshConfig } from './mesh-config.ts';
import { cniAdd, httpOk, socketOf, startEcho, startMesh, until, type RunningMesh } from './mesh-processes.ts';
import { cleanupStale, createTopology, E2E_PREFIX, e2eUnsupportedReason, type NetnsRef, type Topology } from './topology.ts';

function missing(): string | undefined {
  if (!existsSync(WEFT_BIN)) return undefined; // assertBuilt fails the run: npm test builds first
  if (weftSync(['node', '--help']).status !== 0) return 'weft node not built yet';
  for (const cmd of ['dig', 'ip6tables-save']) if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) return `${cmd} is missing: apt-get install -y dnsutils iptables`;
  return undefined;
}
const reason = e2eUnsupportedReason() ?? missing();
if (reason) console.warn(`test/e2e/dns-capture.test.ts skipped: ${reason}`);

const FQDN = 'echo.default.svc.cluster.local';
const NOWHERE_DNS = '10.96.0.10'; // in the service CIDR, served by nothing: only capture answers
const NOWHERE_DNS6 = 'fd00:96::a';
const OUTSIDE = 'outside.example';
const OUTSIDE_IP = '192.0.2.7';
const MARKER = 'weft-dns-marker-4b1e';
const V6 = { bridge: 'fd00:250::1', node1: 'fd00:250::11', node1Link: 'fd00:244:1::1', podA: 'fd00:244:1::10' };
const V6_PORT = 18080;

/** A DNS resolver stub for the bridge namespace (UDP and TCP 53): `outside.example` A 192.0.2.7, NXDOMAIN otherwise; logs each query and its source. */
const UPSTREAM_SCRIPT = `
const dgram = require('node:dgram'), net = require('node:net');
function answer(q, from) {
  let o = 12; const labels = [];
  while (q[o]) { labels.push(q.subarray(o + 1, o + 1 + q[o]).toString()); o += q[o] + 1; }
  const qtype = q.readUInt16BE(o + 1), end = o + 5, name = labels.join('.').toLowerCase();
  const known = name === ${JSON.stringify(OUTSIDE)}, a = known && qtype === 1;
  console.log('query ' + name + ' type ' + qtype + ' from ' + from);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(q.readUInt16BE(0), 0); h.writeUInt16BE(known ? 0x8180 : 0x8183, 2); h.writeUInt16BE(1, 4); h.writeUInt16BE(a ? 1 : 0, 6);
  return Buffer.concat([h, q.subarray(12, end), a ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ${OUTSIDE_IP.split('.').join(', ')}]) : Buffer.alloc(0)]);
}
const udp = dgram.createSocket('udp4');
udp.on('message', (m, r) => udp.send(answer(m, r.address), r.port, r.address));
udp.bind(53, ${JSON.stringify('10.250.0.1')});
net.createServer((s) => { let b = Buffer.alloc(0); s.on('data', (d) => { b = Buffer.concat([b, d]); if (b.length >= 2 && b.length >= 2 + b.readUInt16BE(0)) { const r = answer(b.subarray(2, 2 + b.readUInt16BE(0)), s.remoteAddress); const l = Buffer.alloc(2); l.writeUInt16BE(r.length); s.end(Buffer.concat([l, r])); } }); s.on('error', () => {}); })
  .listen(53, ${JSON.stringify('10.250.0.1')}, () => console.log('upstream listening'));
`;

/** An HTTP server on the bridge's v6 address, outside the mesh. */
const V6_SERVER_SCRIPT = `require('node:http').createServer((q, s) => s.end(JSON.stringify({ path: q.url, source: q.socket.remoteAddress })))
  .listen(${V6_PORT}, ${JSON.stringify(V6.bridge)}, () => console.log('v6 server listening'));`;

describe.skipIf(reason !== undefined)('node proxy: DNS capture and IPv6 capture in pods', () => {
  let topo: Topology;
  let dir: string;
  let mesh: RunningMesh;
  let upstreamOut: () => string = () => '';
  let v6ServerOut: () => string = () => '';
  const etcDirs: string[] = [];
  const logs = () => [...(mesh?.output ?? [])].map(([k, f]) => `--- ${k}\n${f().slice(-3000)}`).join('\n') + `\n--- upstream\n${upstreamOut()}`;
  const dig = (from: NetnsRef, args: string[]) => topo.exec(from, 'dig', ['+time=2', '+tries=1', ...args], { timeoutMs: 15_000 });
  const digShort = async (from: NetnsRef, args: string[]) => (await dig(from, ['+short', ...args])).stdout.trim();
  const status = (out: string) => /status: (\w+)/.exec(out)?.[1];
  const ipt = async (where: NetnsRef, family: 4 | 6) => (await topo.exec(where, family === 4 ? 'iptables-save' : 'ip6tables-save', ['-t', 'nat'])).stdout.split('\n').filter((l) => l.includes('WEFT'));

  async function resolvConf(ns: NetnsRef, text: string): Promise<void> {
    const d = `/etc/netns/${ns.ns}`;
    await mkdir(d, { recursive: true });
    etcDirs.push(d);
    await writeFile(join(d, 'resolv.conf'), text);
  }

  async function ipIn(ns: NetnsRef, lines: string[]): Promise<void> {
    const r = await topo.exec(ns, 'ip', ['-batch', '-'], { input: `${lines.join('\n')}\n` });
    if (r.code !== 0) throw new Error(`ip -batch in ${ns.ns}: ${r.stderr}`);
  }

  beforeAll(async () => {
    await cleanupStale();
    await removeStaleEtcNetns();
    topo = await createTopology();
    const { a, c } = topo.pods;
    const { node1 } = topo.nodes;
    // IPv6 for pod a (node1) and the bridge: ptp-style like v4, node1 forwards; pod c stays v4-only
    await ipIn(topo.net, [`addr add ${V6.bridge}/64 dev br0 nodad`, `route add fd00:244:1::/64 via ${V6.node1} dev br0`]);
    await ipIn(node1, [`addr add ${V6.node1}/64 dev eth0 nodad`, `addr add ${V6.node1Link}/128 dev ${a.hostVeth} nodad`, `route add ${V6.podA}/128 dev ${a.hostVeth} src ${V6.node1Link}`]);
    expect((await topo.exec(node1, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=1'])).code).toBe(0);
    await ipIn(a, [`addr add ${V6.podA}/128 dev eth0 nodad`, `route add ${V6.node1Link}/128 dev eth0`, `route add default via ${V6.node1Link} dev eth0 src ${V6.podA}`]);

    await resolvConf(a, `nameserver ${NOWHERE_DNS}\noptions timeout:2 attempts:1\n`);
    await resolvConf(topo.pods.d, `nameserver ${NOWHERE_DNS}\noptions timeout:1 attempts:1\n`);
    await resolvConf(node1, 'nameserver 10.250.0.1\n'); // node1's proxy forwards here
    await resolvConf(topo.nodes.node2, 'nameserver 10.250.0.99\n'); // nothing there: node2's proxy has no upstream

    const upstream = topo.spawn(topo.net, process.execPath, ['-e', UPSTREAM_SCRIPT]);
    upstreamOut = collect(upstream);
    await until('the upstream DNS stub', 10_000, async () => /upstream listening/.test(upstreamOut()), upstreamOut);
    const v6server = topo.spawn(topo.net, process.execPath, ['-e', V6_SERVER_SCRIPT]);
    v6ServerOut = collect(v6server);
    await until('the v6 server', 10_000, async () => /v6 server listening/.test(v6ServerOut()), v6ServerOut);

    dir = await mkdtemp(join(tmpdir(), 'weft-e2e-dns-'));
    await mkdir(join(dir, 'config'));
    await writeMeshConfig(join(dir, 'config'), topo);
    mesh = await startMesh(topo, dir);
    await startEcho(topo, c, ECHO_PORT);
    for (const name of ['a', 'b', 'c', 'd'] as const) cniAdd(dir, topo.pods[name], PODS[name].ns);
    await until('curl from pod a to the echo VIP', 20_000, () => httpOk(topo, a, `http://${ECHO_VIP}/`), logs);
  }, 90_000);

  afterAll(async () => {
    await topo?.destroy();
    for (const d of etcDirs) await rm(d, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it('resolves a mesh FQDN to its VIP through capture, over UDP and TCP; unenrolled pod D gets no answer from the same address', async () => {
    const a = topo.pods.a;
    expect(await digShort(a, [`@${NOWHERE_DNS}`, FQDN, 'A'])).toBe(ECHO_VIP);
    expect(await digShort(a, ['+tcp', `@${NOWHERE_DNS}`, FQDN, 'A'])).toBe(ECHO_VIP);
    // a bare service name resolves in the asking pod's namespace: the proxy saw the pod's own IP as client
    expect(await digShort(a, [`@${NOWHERE_DNS}`, 'echo', 'A'])).toBe(ECHO_VIP);
    const full = await dig(a, [`@${NOWHERE_DNS}`, FQDN, 'A']);
    expect(full.stdout).toMatch(new RegExp(`SERVER: ${NOWHERE_DNS.replace(/\./g, '\\.')}#53`)); // the answer comes back from the address asked
    expect(full.stdout).toContain(' aa'); // authoritative: the mesh answered, not a forwarder
    // glibc through A's resolv.conf (ip netns exec bind-mounts it), as an unmodified program resolves
    expect((await topo.exec(a, 'getent', ['ahostsv4', FQDN])).stdout).toContain(ECHO_VIP);
    const d = await dig(topo.pods.d, [`@${NOWHERE_DNS}`, FQDN, 'A']);
    expect(d.code).not.toBe(0);
    expect(d.stdout).toMatch(/timed out|no servers could be reached/);
    expect(upstreamOut()).not.toContain(FQDN); // mesh names never leave the node
  }, 30_000);

  it('carries curl http://<fqdn>/ from pod A to pod C in mutual TLS over 15008, never in plaintext', async () => {
    const cap = await captureBridge(topo, ['tcp']);
    let packets: TcpPacket[] = [];
    let body = '';
    try {
      const r = await topo.exec(topo.pods.a, 'curl', ['-sS', '--max-time', '5', `http://${FQDN}/${MARKER}`], { timeoutMs: 10_000 });
      expect(r.stderr).toBe('');
      body = r.stdout;
    } finally {
      packets = await cap.stop();
    }
    expect(JSON.parse(body)).toMatchObject({ pod: 'c', path: `/${MARKER}` });
    const data = packets.filter((p) => p.payload.length > 0);
    expect(data.some((p) => (p.dport === 15008 || p.sport === 15008) && isTlsRecord(p.payload))).toBe(true);
    expect(data.filter((p) => p.payload.includes(MARKER)).length).toBe(0);
  }, 30_000);

  it('forwards names the mesh does not own from the node namespace, and answers SERVFAIL (not silence) when no upstream answers', async () => {
    const a = topo.pods.a;
    expect(await digShort(a, [`@${NOWHERE_DNS}`, OUTSIDE, 'A'])).toBe(OUTSIDE_IP);
    expect(await digShort(a, ['+tcp', `@${NOWHERE_DNS}`, OUTSIDE, 'A'])).toBe(OUTSIDE_IP);
    expect(status((await dig(a, [`@${NOWHERE_DNS}`, 'nothing.example', 'A'])).stdout)).toBe('NXDOMAIN'); // relayed unchanged
    const asked = upstreamOut().split('\n').filter((l) => l.startsWith(`query ${OUTSIDE} type 1 `));
    expect(asked.length).toBeGreaterThanOrEqual(2);
    for (const l of asked) expect(l).toMatch(new RegExp(`from (::ffff:)?${topo.nodes.node1.ip.replace(/\./g, '\\.')}$`)); // from node1's namespace, not recaptured
    // node2's proxy has no reachable upstream: pod c (enrolled on node2) gets SERVFAIL within the 5 s deadline
    const t0 = Date.now();
    const r = await topo.exec(topo.pods.c, 'dig', ['+time=9', '+tries=1', `@${NOWHERE_DNS}`, OUTSIDE, 'A'], { timeoutMs: 15_000 });
    expect(status(r.stdout)).toBe('SERVFAIL');
    expect(Date.now() - t0).toBeLessThan(8000);
  }, 40_000);

  it('captures IPv6 too: rules with the node v6 address exempted, DNS to [::1]:15053, and TCP to 15001 passed through under ALLOW_ANY', async () => {
    const a = topo.pods.a;
    const v6 = await ipt(a, 6);
    expect(v6).toContain('-A OUTPUT -j WEFT_INPOD_OUTPUT');
    expect(v6).toContain('-A PREROUTING -j WEFT_INPOD_PREROUTING');
    expect(v6).toContain(`-A WEFT_INPOD_PREROUTING -s ${V6.node1Link}/128 -j RETURN`);
    expect(v6.findIndex((l) => /-p udp .*--dport 53 .*REDIRECT --to-ports 15053/.test(l))).toBeGreaterThan(-1);
    expect(v6.findIndex((l) => /-p udp .*--dport 53/.test(l))).toBeLessThan(v6.findIndex((l) => l.endsWith('-p tcp -j REDIRECT --to-ports 15001')));
    // pod c has no v6 address: its v6 set is OUTPUT only (nothing can dial it over v6)
    const c6 = await ipt(topo.pods.c, 6);
    expect(c6).toContain('-A OUTPUT -j WEFT_INPOD_OUTPUT');
    expect(c6.some((l) => l.includes('PREROUTING'))).toBe(false);

    expect(await digShort(a, ['-6', `@${NOWHERE_DNS6}`, FQDN, 'A'])).toBe(ECHO_VIP); // v6 DNS, answered only by capture
    expect(await digShort(a, ['-6', '+tcp', `@${NOWHERE_DNS6}`, FQDN, 'A'])).toBe(ECHO_VIP);

    const r = await topo.exec(a, 'curl', ['-sS', '--max-time', '5', `http://[${V6.bridge}]:${V6_PORT}/v6-through-capture`], { timeoutMs: 10_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ path: '/v6-through-capture' });
    // node1's proxy carried it: its access log names the v6 original destination read from the socket
    await until("node1's access log line for the v6 passthrough", 5000, async () => mesh.output.get('node1')!().split('\n').some((l) => l.startsWith('{') && l.includes(V6.bridge) && l.includes(String(V6_PORT))), logs);
  }, 40_000);

  it('after `weft cni del` the DNS rules (v4 and v6) and in-pod DNS listeners are gone; `weft cni add` brings them back', async () => {
    const a = topo.pods.a;
    expect((await ipt(a, 4)).some((l) => /--dport 53 .*--to-ports 15053/.test(l))).toBe(true);
    const del = weftSync(['cni', 'del', '--pod', 'default/a', '--netns', a.netnsPath, '--socket', socketOf(dir, a.node), '--timeout', '10000']);
    expect(del.status, del.stderr).toBe(0);
    expect(await ipt(a, 4)).toEqual([]);
    expect(await ipt(a, 6)).toEqual([]);
    const r = await dig(a, ['+time=1', `@${NOWHERE_DNS}`, FQDN, 'A']);
    expect(r.code).not.toBe(0); // nothing answers 10.96.0.10 without capture
    expect((await dig(a, ['+time=1', '+tcp', '@127.0.0.1', '-p', '15053', FQDN, 'A'])).code).not.toBe(0); // the in-pod listener is closed
    cniAdd(dir, a, PODS.a.ns);
    expect(await digShort(a, [`@${NOWHERE_DNS}`, FQDN, 'A'])).toBe(ECHO_VIP);
  }, 40_000);
});

function collect(child: import('node:child_process').ChildProcess): () => string {
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  return () => out;
}

/** /etc/netns/weft-e2e-* of runs whose namespace is gone (a killed run never reached afterAll). */
async function removeStaleEtcNetns(): Promise<void> {
  const names = await readdir('/etc/netns').catch(() => [] as string[]);
  for (const n of names) if (n.startsWith(E2E_PREFIX) && !existsSync(`/run/netns/${n}`)) await rm(`/etc/netns/${n}`, { recursive: true, force: true });
}
