/**
 * The addon's network-namespace sockets and PodNetnsSockets, against a real namespace made for the
 * file (`ip netns add`; needs root, skipped elsewhere with the reason): a socket made there reaches a
 * listener that exists only there, carries the proxy's mark, and leaves this thread in its own
 * namespace; bad input is an error, never a crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dialTcp } from '../node-proxy/outbound.ts';
import { PROXY_MARK } from './iptables.ts';
import { closeNetns, netnsSocketsAvailable, openNetns, socketFd, socketInNetns, socketMark } from './original-dst.ts';
import { PASSTHROUGH_MARK, PodNetnsSockets } from './pod-netns.ts';

function unsupported(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (ip netns add, setns)';
  if (!netnsSocketsAvailable()) return 'the original-dst addon is not built (node native/original-dst/install.cjs)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? `\`ip netns\` is not usable here: ${r.error?.message ?? r.stderr}` : undefined;
}
const reason = unsupported();
if (reason) console.warn(`hosts/node/capture/pod-netns.test.ts skipped: ${reason}`);

const ip = (...args: string[]) => {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
};
const ownNetns = () => readlinkSync('/proc/thread-self/ns/net');
const listening = (s: Server) => new Promise<number>((r) => s.once('listening', () => r((s.address() as { port: number }).port)));

describe.skipIf(reason !== undefined)('sockets made in a pod network namespace (addon: openNetns, socketInNetns)', () => {
  const name = `weft-podnetns-${process.pid}-${randomBytes(3).toString('hex')}`;
  const path = `/run/netns/${name}`;
  let ns = -1;
  /** a listener made inside the namespace (so it exists only there), and who connected to it */
  let server: Server;
  let port = 0;
  const peers: string[] = [];

  beforeAll(async () => {
    ip('netns', 'add', name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
    ip('-n', name, 'addr', 'add', '10.253.7.1/32', 'dev', 'lo'); // an address that exists only in there
    ns = openNetns(path);
    server = createServer((s) => {
      s.on('error', () => {}); // the test closes its side at once
      peers.push(`${s.remoteAddress}`);
      s.end(`hello from ${name}\n`);
    });
    const ready = listening(server);
    server.listen({ fd: socketInNetns(ns, 4, 0) });
    // bound on 0.0.0.0 with an ephemeral port, inside the namespace
    port = await ready;
  });
  afterAll(() => {
    server?.close();
    if (ns >= 0) closeNetns(ns);
    spawnSync('ip', ['netns', 'del', name]);
  });

  it('makes a marked, non-blocking socket there that Node connects to a listener only that namespace has', async () => {
    const before = ownNetns();
    const fd = socketInNetns(ns, 4, PASSTHROUGH_MARK);
    expect(ownNetns()).toBe(before); // this thread came back
    expect(socketMark(fd)).toBe(0x539);
    expect(PROXY_MARK.startsWith('0x539/')).toBe(true); // the mark the pod's OUTPUT rule returns on
    const s = new Socket({ fd, allowHalfOpen: true });
    const got = await new Promise<string>((resolve, reject) => {
      let data = '';
      s.on('data', (d) => (data += d));
      s.on('end', () => resolve(data));
      s.on('error', reject);
      s.connect({ host: '10.253.7.1', port });
    });
    expect(got).toBe(`hello from ${name}\n`);
    expect(peers.at(-1)).toBe('10.253.7.1'); // the source the namespace's own routing picked
    s.destroy();
  });

  it('dialTcp with a pod socket connects from the namespace, and from the node without one', async () => {
    const made: number[] = [];
    const s = await dialTcp(`10.253.7.1:${port}`, 3000, (family) => {
      const fd = socketInNetns(ns, family, PASSTHROUGH_MARK);
      made.push(fd);
      return fd;
    });
    expect(made).toHaveLength(1);
    expect(socketMark(socketFd(s))).toBe(0x539);
    expect(s.localAddress).toBe('10.253.7.1');
    s.destroy();
    // the node's namespace has no 10.253.7.1 listener: the same address from here is another place
    const before = peers.length;
    await dialTcp(`10.253.7.1:${port}`, 300, () => undefined).then((x) => x.destroy(), () => undefined);
    expect(peers.length).toBe(before);
  });

  it('refuses what is not a network namespace, and a bad descriptor, with an error code', () => {
    expect(() => openNetns(`/run/netns/${name}-missing`)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    const file = join(tmpdir(), `${name}.txt`);
    writeFileSync(file, 'not a namespace');
    expect(() => openNetns(file)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => openNetns('/proc/self/ns/uts')).toThrow(/not a network namespace/);
    const before = ownNetns();
    const fileFd = openSync(file, 'r');
    try {
      expect(() => socketInNetns(fileFd, 4, PASSTHROUGH_MARK)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    } finally {
      closeSync(fileFd);
    }
    expect(() => socketInNetns(999_999, 4, 0)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    expect(() => socketInNetns(ns, 5 as 4, 0)).toThrow(TypeError);
    expect(ownNetns()).toBe(before);
  });

  it('costs microseconds per socket, no process', () => {
    const n = 2000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) closeSync(socketInNetns(ns, 4, PASSTHROUGH_MARK));
    const us = Number(process.hrtime.bigint() - t0) / n / 1000;
    console.log(`socketInNetns + close: ${us.toFixed(1)} us each (${n})`);
    expect(us).toBeLessThan(200); // tens of microseconds here; generous for a loaded 2-core machine
  });

  it('PodNetnsSockets holds one descriptor per enrolment until its listener closes; failures fall back with one warning', async () => {
    const logs: Array<[string, string]> = [];
    const sockets = new PodNetnsSockets((level, m) => logs.push([level, m]));
    const outbound = createServer();
    outbound.listen(0, '127.0.0.1');
    await listening(outbound);
    const pod = { pod: 'default/a', netnsPath: path, servers: { outbound } };
    const a = sockets.socket(pod, 4);
    const b = sockets.socket(pod, 4);
    expect(a).toBeGreaterThan(2);
    expect(b).toBeGreaterThan(2);
    expect(sockets.held).toBe(1);
    closeSync(a!);
    closeSync(b!);
    await new Promise<void>((r) => outbound.close(() => r()));
    expect(sockets.held).toBe(0);
    // a closed listener (the pod left): a socket is still made, nothing is held
    const late = sockets.socket(pod, 4);
    expect(late).toBeGreaterThan(2);
    closeSync(late!);
    expect(sockets.held).toBe(0);

    const gone = { pod: 'default/gone', netnsPath: `/run/netns/${name}-gone` };
    expect(sockets.socket(gone, 4)).toBeUndefined();
    expect(sockets.socket(gone, 4)).toBeUndefined();
    expect(logs.map(([l]) => l)).toEqual(['warn', 'debug']);
    expect(logs[0]![1]).toMatch(/default\/gone: passthrough dialled from the node's namespace .*ENOENT|no such file/i);
    expect(logs).toHaveLength(2);
    sockets.close();
  });
});
