/**
 * e2e: transparent capture in real network namespaces (design.md 3, capture-in-node.md). The test
 * process plays the node proxy: PodCapture opens in-pod listeners and installs rules, the addon reads
 * original destinations, and `weft cni add/del` (the built bundle) reaches a CniServer over its socket.
 * Skipped, with the reason, where namespaces are unavailable (not root, no `ip netns`, no iptables).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server, Socket } from 'node:net';
import { openPodListeners, originalDstString, PodCapture, type CaptureKind, type CapturedPod, type PodListeners } from '../../hosts/node/capture/index.ts';
import { CniServer } from '../../hosts/node/cni/index.ts';
import { assertBuilt, WEFT_BIN } from '../support/weft-process.ts';
import { connectFrom, Inbox } from './netns-socket.ts';
import { captureBridge, isTlsRecord } from './bridge-capture.ts';
import { cleanupStale, createTopology, e2eUnsupportedReason, type NetnsRef, type Topology } from './topology.ts';

const reason = e2eUnsupportedReason();
if (reason) console.warn(`test/e2e/capture.test.ts skipped: ${reason}`);

interface Accepted {
  kind: CaptureKind;
  socket: Socket;
  pod: CapturedPod;
}

/** The nat table, minus comments and counters, for before/after comparisons. */
async function natRules(topo: Topology, where: NetnsRef): Promise<string[]> {
  const r = await topo.exec(where, 'iptables-save', ['-t', 'nat']);
  return r.stdout.split('\n').filter((l) => l.startsWith('-A') || (l.startsWith(':') && !/^:(PREROUTING|INPUT|OUTPUT|POSTROUTING) /.test(l)));
}

/** Runs the built `weft` asynchronously (weftSync would block the CniServer living in this process). */
function weft(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WEFT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

const read = (s: Socket) => new Promise<string>((resolve) => s.once('data', (d) => resolve(String(d))));

describe.skipIf(reason !== undefined)('transparent capture in pod network namespaces', () => {
  let topo: Topology;
  const accepted = new Inbox<Accepted>();
  const open: Array<Socket | Server> = [];
  let capture: PodCapture;

  beforeAll(async () => {
    await cleanupStale();
    topo = await createTopology();
    capture = new PodCapture({ onConnection: (kind, socket, pod) => (open.push(socket), accepted.push({ kind, socket, pod })), timeoutMs: 10_000 });
  });
  afterEach(() => {
    for (const s of open.splice(0)) 'destroy' in s ? s.destroy() : s.close();
  });
  afterAll(async () => {
    await capture?.close();
    await topo?.destroy();
  });

  it('wires pods across nodes: pod A reaches an app in pod C by its IP', async () => {
    const app = await openPodListeners(topo.pods.c.netnsPath, { ports: [9000] });
    try {
      const got = new Promise<Socket>((resolve) => app.servers.get(9000)!.once('connection', resolve));
      const client = await connectFrom(topo.pods.a, topo.pods.c.ip, 9000);
      const server = await got;
      open.push(client, server);
      expect(server.remoteAddress).toBe(topo.pods.a.ip);
      expect(server.localAddress).toBe(topo.pods.c.ip);
    } finally {
      await app.close();
    }
  });

  it('sees on the bridge (tcpdump) what crosses between the nodes', async () => {
    const app = await openPodListeners(topo.pods.d.netnsPath, { ports: [9000] });
    const pcap = await captureBridge(topo, ['tcp', 'port', '9000']);
    try {
      const got = new Promise<Socket>((resolve) => app.servers.get(9000)!.once('connection', resolve));
      const client = await connectFrom(topo.pods.b, topo.pods.d.ip, 9000);
      const server = await got;
      open.push(client, server);
      client.write('weft-plaintext-marker');
      expect(await read(server)).toBe('weft-plaintext-marker');
    } finally {
      await app.close();
    }
    const packets = await pcap.stop();
    const data = packets.filter((p) => p.payload.length > 0);
    expect(data.map((p) => `${p.src} > ${p.dst}:${p.dport} ${p.payload}`)).toContain(`${topo.pods.b.ip} > ${topo.pods.d.ip}:9000 weft-plaintext-marker`);
    expect(data.some((p) => isTlsRecord(p.payload))).toBe(false);
  });

  it('captures outbound TCP to a service VIP on 15001 and reads its original destination', async () => {
    const a = topo.pods.a;
    await capture.add('default/a', a.netnsPath, a.ip, a.node.linkAddress);
    const client = await connectFrom(a, '10.96.0.10', 8080);
    open.push(client);
    const got = await accepted.next(5000, 'the redirected outbound connection');
    expect(got.kind).toBe('outbound');
    expect(got.pod.pod).toBe('default/a');
    expect(originalDstString(got.socket)).toBe('10.96.0.10:8080');
    expect(got.socket.remoteAddress).toBe(a.ip); // pod-side addresses
    expect(got.socket.localAddress).toBe('127.0.0.1');
    expect(got.socket.localPort).toBe(15001);
    got.socket.write('hello from the node proxy');
    expect(await read(client)).toBe('hello from the node proxy');

    // loopback is not captured: a direct connection to 15001 is not redirected (its original destination is itself)
    open.push(await connectFrom(a, '127.0.0.1', 15001));
    const direct = await accepted.next(5000, 'the direct connection');
    expect(originalDstString(direct.socket)).toBe('127.0.0.1:15001');
  });

  it('captures inbound TCP on 15006, but not HBONE (15008) nor the node proxy dialling from the node address', async () => {
    const a = topo.pods.a; // enrolled by the previous test; make sure
    await capture.add('default/a', a.netnsPath, a.ip, a.node.linkAddress);
    const app: PodListeners = await openPodListeners(a.netnsPath, { ports: [9080] });
    const appConns = new Inbox<Socket>();
    app.servers.get(9080)!.on('connection', (s: Socket) => (open.push(s), appConns.push(s)));
    try {
      // from pod C on the other node: redirected to 15006, original destination is pod A's port
      open.push(await connectFrom(topo.pods.c, a.ip, 9080));
      const inbound = await accepted.next(5000, 'the redirected inbound connection');
      expect(inbound.kind).toBe('inbound');
      expect(originalDstString(inbound.socket)).toBe(`${a.ip}:9080`);
      expect(inbound.socket.remoteAddress).toBe(topo.pods.c.ip);
      expect(inbound.socket.localPort).toBe(15006);

      // HBONE to the pod IP reaches the in-pod 15008 listener directly
      open.push(await connectFrom(topo.pods.c, a.ip, 15008));
      const hbone = await accepted.next(5000, 'the HBONE connection');
      expect(hbone.kind).toBe('hbone');
      expect(hbone.socket.localAddress).toBe(a.ip);
      expect(hbone.socket.remoteAddress).toBe(topo.pods.c.ip);

      // the node proxy dials the pod's app from the node's address on the pod link: not captured
      open.push(await connectFrom(a.node, a.ip, 9080));
      const direct = await appConns.next(5000, "the node's connection at the app");
      expect(direct.remoteAddress).toBe(a.node.linkAddress);
      expect(accepted.size).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('installs and removes rules idempotently, leaving no trace', async () => {
    const { installCapture, removeCapture, captureInstalled, planCaptureRules } = await import('../../hosts/node/capture/index.ts');
    const d = topo.pods.d;
    await topo.exec(d, 'iptables', ['-t', 'nat', '-S']); // make the nat table exist, so before/after compare like for like
    const before = await natRules(topo, d);
    await removeCapture(d.netnsPath); // nothing installed: a no-op
    const opts = { nodeAddress: d.node.linkAddress };
    await installCapture(d.netnsPath, opts);
    const once = await natRules(topo, d);
    await installCapture(d.netnsPath, opts);
    expect(await natRules(topo, d)).toEqual(once);
    expect(once.filter((l) => l.includes('-j WEFT_INPOD_'))).toEqual(['-A PREROUTING -j WEFT_INPOD_PREROUTING', '-A OUTPUT -j WEFT_INPOD_OUTPUT']);
    expect(once.filter((l) => l.startsWith('-A WEFT_')).length).toBe(planCaptureRules(opts).split('\n').filter((l) => l.startsWith('-A')).length);
    expect(await captureInstalled(d.netnsPath)).toBe(true);
    await removeCapture(d.netnsPath);
    await removeCapture(d.netnsPath);
    expect(await natRules(topo, d)).toEqual(before);
    expect(await captureInstalled(d.netnsPath)).toBe(false);
  });

  it('`weft cni add/del` reaches the CniServer over its socket, which enrolls and removes the pod', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cni-'));
    const socketPath = join(dir, 'node.sock');
    const b = topo.pods.b;
    const calls: string[] = [];
    const server = new CniServer({
      socketPath,
      onAdd: async (pod, netns) => {
        calls.push(`add ${pod} ${netns}`);
        await capture.add(pod, netns, b.ip, b.node.linkAddress); // this process is not in node1's namespace: say it
        return { message: 'enrolled' };
      },
      onDel: async (pod) => {
        calls.push(`del ${pod}`);
        return { message: (await capture.remove(pod)) ? 'removed' : 'was not enrolled' };
      },
    });
    await server.start();
    try {
      const add = await weft(['cni', 'add', '--pod', 'default/b', '--netns', b.netnsPath, '--socket', socketPath]);
      expect(add.stderr).toBe('');
      expect(add).toMatchObject({ status: 0 });
      expect(add.stdout).toContain('weft cni add default/b: ok (enrolled)');
      expect(calls).toEqual([`add default/b ${b.netnsPath}`]);
      expect(capture.get('default/b')?.netnsPath).toBe(b.netnsPath);

      open.push(await connectFrom(b, '10.96.3.4', 443));
      const got = await accepted.next(5000, "pod B's redirected connection");
      expect(got.pod.pod).toBe('default/b');
      expect(originalDstString(got.socket)).toBe('10.96.3.4:443');

      const del = await weft(['cni', 'del', '--pod', 'default/b', '--netns', b.netnsPath, '--socket', socketPath]);
      expect(del).toMatchObject({ status: 0 });
      expect(del.stdout).toContain('ok (removed)');
      expect(capture.get('default/b')).toBeUndefined();
      expect((await natRules(topo, b)).filter((l) => l.includes('WEFT'))).toEqual([]);
      await expect(connectFrom(b, '127.0.0.1', 15001)).rejects.toThrow(/ECONNREFUSED/); // listeners closed too
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('`weft cni` fails with the node proxy\'s reason, or when no node proxy listens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cni-'));
    const socketPath = join(dir, 'node.sock');
    const server = new CniServer({
      socketPath,
      onAdd: (pod) => {
        throw new Error(`pod ${pod} is unknown to this node`);
      },
      onDel: () => {},
    });
    await server.start();
    try {
      const broken = await weft(['cni', 'add', '--pod', 'default/broken', '--netns', topo.pods.b.netnsPath, '--socket', socketPath]);
      expect(broken.status).toBe(1);
      expect(broken.stderr).toContain('pod default/broken is unknown to this node');
      await server.close();
      const none = await weft(['cni', 'del', '--pod', 'default/b', '--socket', socketPath]);
      expect(none.status).toBe(1);
      expect(none.stderr).toContain(`no node proxy is listening on ${socketPath}`);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('in-pod listeners fail fast and clearly, leaving nothing behind', async () => {
    await expect(openPodListeners('/run/netns/weft-e2e-does-not-exist', { ports: [15001] })).rejects.toThrow(/weft-e2e-does-not-exist/);
    const c = topo.pods.c;
    const first = await openPodListeners(c.netnsPath, { ports: [19001] });
    try {
      await expect(openPodListeners(c.netnsPath, { ports: [19002, 19001] })).rejects.toThrow(/EADDRINUSE/);
      const again = await openPodListeners(c.netnsPath, { ports: [19002] }); // the failed call released 19002
      await again.close();
    } finally {
      await first.close();
    }
  });

  it("cleanupStale removes what a dead run left (and kills what runs inside), never a live run's namespaces", async () => {
    const deadPid = spawnSync('true').pid!;
    const stale = `weft-e2e-${deadPid}-dead-net`;
    expect(spawnSync('ip', ['netns', 'add', stale]).status).toBe(0);
    const sleeper = spawn('ip', ['netns', 'exec', stale, 'sleep', '60'], { stdio: 'ignore' });
    const gone = new Promise((resolve) => sleeper.once('exit', resolve));
    await new Promise((r) => setTimeout(r, 200)); // let it enter the namespace
    const removed = await cleanupStale();
    expect(removed).toContain(stale);
    expect(removed.filter((n) => n.startsWith(topo.prefix))).toEqual([]);
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(stale);
    await gone;
  });
});
