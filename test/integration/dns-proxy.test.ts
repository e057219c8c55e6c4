/**
 * The DNS proxy with a real client (dig, from Debian's dnsutils) on loopback: mesh names answered
 * here (A, AAAA, empty AAAA, truncation then TCP), other names forwarded to a fake upstream run by
 * the test (no internet here), NXDOMAIN passed through, TCP queries, upstream timeout -> SERVFAIL,
 * malformed packets dropped or FORMERR, the server answering on after each.
 */
import { execFile } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DnsServer } from '../../hosts/node/servers/dns-server.ts';
import * as wire from '../../hosts/node/servers/dns-wire.ts';

const hasDig = await new Promise<boolean>((r) => execFile('dig', ['-v'], (err) => r(!err)));

/** A fake upstream: example.test A, nx.test NXDOMAIN, tc.test truncated over UDP, slow.test never. */
class FakeUpstream {
  udp: UdpSocket = createSocket('udp4');
  tcp: Server = createServer((s) => {
    s.on('error', () => s.destroy());
    s.on('data', (d: Buffer) => {
      const res = this.reply(d.subarray(2), 'tcp');
      if (res) s.write(Buffer.concat([Buffer.from([res.length >> 8, res.length & 255]), res]));
    });
  });
  seen: string[] = [];
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((r) => this.tcp.listen(0, '127.0.0.1', r));
    this.port = (this.tcp.address() as { port: number }).port;
    await new Promise<void>((r) => this.udp.bind(this.port, '127.0.0.1', r));
    this.udp.on('message', (m, rinfo) => {
      const res = this.reply(m, 'udp');
      if (res) this.udp.send(res, rinfo.port, rinfo.address);
    });
  }

  reply(raw: Uint8Array, transport: string): Uint8Array | undefined {
    const p = wire.parseQuery(raw);
    if (!p.ok) return undefined;
    const q = p.query;
    this.seen.push(`${transport}:${q.name}:${q.qtype}`);
    switch (q.name) {
      case 'example.test':
        return wire.answerResponse(q, q.qtype === wire.QTYPE_A ? [Uint8Array.of(192, 0, 2, 7)] : [], 300, 65535, false);
      case 'tc.test': {
        const many = Array.from({ length: 60 }, (_, i) => Uint8Array.of(198, 51, 100, i));
        return wire.answerResponse(q, many, 300, transport === 'udp' ? 512 : 65535, false);
      }
      case 'slow.test':
        return undefined;
      default:
        return wire.errorResponse(q, wire.RCODE_NXDOMAIN);
    }
  }

  close(): void {
    this.udp.close();
    this.tcp.close();
  }
}

const upstream = new FakeUpstream();
const clients: string[] = [];
let dns: DnsServer;
let port = 0;

const MESH: Record<string, string[]> = {
  'reviews.default.svc.cluster.local': ['10.96.0.10', 'fd00::10'],
  'v4only.mesh.test': ['10.96.0.11'],
  'many.default.svc.cluster.local': Array.from({ length: 100 }, (_, i) => `10.97.0.${i + 1}`),
};

beforeAll(async () => {
  await upstream.start();
  dns = new DnsServer({
    host: '127.0.0.1',
    port: 0,
    upstreams: [`127.0.0.1:${upstream.port}`],
    queryTimeoutMs: 500,
    resolve: (name, client) => {
      clients.push(client);
      const addresses = MESH[name];
      return addresses ? { addresses } : undefined;
    },
  });
  port = (await dns.start()).port;
});

afterAll(async () => {
  await dns.drain(100);
  upstream.close();
});

function dig(args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile('dig', [`@127.0.0.1`, '-p', String(port), '+tries=1', '+time=2', ...args], (_err, stdout) => resolve(stdout));
  });
}
const short = async (args: string[]) => (await dig(['+short', ...args])).trim().split('\n').filter(Boolean);

describe.skipIf(!hasDig)('DNS proxy with dig', () => {
  test('mesh name: A and AAAA answered here with a 30 s TTL, authoritative', async () => {
    expect(await short(['reviews.default.svc.cluster.local', 'A'])).toEqual(['10.96.0.10']);
    expect(await short(['Reviews.Default.svc.cluster.local.', 'AAAA'])).toEqual(['fd00::10']);
    const full = await dig(['reviews.default.svc.cluster.local', 'A']);
    expect(full).toMatch(/status: NOERROR/);
    expect(full).toMatch(/flags: qr aa rd ra/);
    expect(full).toMatch(/reviews\.default\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+10\.96\.0\.10/);
    expect(clients).toContain('127.0.0.1');
    expect(upstream.seen.some((s) => s.includes('reviews'))).toBe(false);
  });

  test('mesh name without an address of the asked family: NOERROR, no answer', async () => {
    const full = await dig(['v4only.mesh.test', 'AAAA']);
    expect(full).toMatch(/status: NOERROR/);
    expect(full).toMatch(/ANSWER: 0/);
  });

  test('other names are forwarded; NXDOMAIN passes through', async () => {
    expect(await short(['example.test', 'A'])).toEqual(['192.0.2.7']);
    expect(upstream.seen).toContain('udp:example.test:1');
    const nx = await dig(['nothing.test', 'A']);
    expect(nx).toMatch(/status: NXDOMAIN/);
    // A non-address question for a mesh name is forwarded too (as ztunnel does).
    await dig(['reviews.default.svc.cluster.local', 'TXT']);
    expect(upstream.seen).toContain('udp:reviews.default.svc.cluster.local:16');
  });

  test('TCP queries, mesh and forwarded', async () => {
    expect(await short(['+tcp', 'reviews.default.svc.cluster.local', 'A'])).toEqual(['10.96.0.10']);
    expect(await short(['+tcp', 'example.test', 'A'])).toEqual(['192.0.2.7']);
    expect(upstream.seen).toContain('tcp:example.test:1');
  });

  test('large answers: truncated over UDP, complete over TCP (mesh and forwarded)', async () => {
    const ignored = await dig(['+ignore', '+bufsize=1232', 'many.default.svc.cluster.local', 'A']);
    expect(ignored).toMatch(/flags: qr aa tc rd ra/);
    expect(await short(['many.default.svc.cluster.local', 'A'])).toHaveLength(100); // dig retries over TCP
    expect(await short(['tc.test', 'A'])).toHaveLength(60);
    expect(upstream.seen).toContain('tcp:tc.test:1');
  });

  test('upstream silent: SERVFAIL after the query timeout', async () => {
    const t0 = Date.now();
    const full = await dig(['slow.test', 'A']);
    expect(full).toMatch(/status: SERVFAIL/);
    expect(Date.now() - t0).toBeLessThan(1800);
  });

  test('malformed packets: garbage dropped, broken question FORMERR, server answers on', async () => {
    const sock = createSocket('udp4');
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const send = (b: Uint8Array) => new Promise<void>((r) => sock.send(b, port, '127.0.0.1', () => r()));
    await send(Uint8Array.of(1, 2, 3, 4, 5));
    await send(Buffer.alloc(600, 0xff)); // QR set: "a response", dropped
    await new Promise((r) => setTimeout(r, 200));
    expect(replies).toHaveLength(0);
    await send(Uint8Array.of(0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 97, 98)); // question cut short
    await new Promise((r) => setTimeout(r, 200));
    expect(replies).toHaveLength(1);
    expect([replies[0]![0], replies[0]![1], replies[0]![3]! & 15]).toEqual([0xab, 0xcd, wire.RCODE_FORMERR]);
    sock.close();
    expect(await short(['reviews.default.svc.cluster.local', 'A'])).toEqual(['10.96.0.10']);
    expect(dns.counters.dropped).toBeGreaterThanOrEqual(2);
  });
});
