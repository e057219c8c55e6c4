/**
 * SOCKS5 and HTTP CONNECT on one port with real clients (curl) and raw sockets for the bad cases:
 * each bad input gets its RFC reply or HTTP status and a close, and the server serves on.
 */
import { connect, createServer, type Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ProxyEntryServer, type ConnectOutcome, type EntryRequest } from '../../hosts/node/servers/proxy-entry-server.ts';
import type { SpliceEnd } from '../../hosts/node/servers/splice.ts';
import { tcpLabels } from '../../core/telemetry/tcp-labels.ts';
import { TcpMetrics } from '../../core/telemetry/tcp-metrics.ts';
import { curl, GREETING, httpEcho, listen, rawExchange, socksConnectName, socksRequest, tcpEcho } from './socks-fixtures.ts';

let httpBackend: HttpServer;
let tcpBackend: Server;
let httpPort = 0;
let tcpPort = 0;
let proxy: ProxyEntryServer;
let port = 0;
const requests: EntryRequest[] = [];
const ends: SpliceEnd[] = [];
const aborted: string[] = [];
const tcp = new TcpMetrics();

function dial(p: number): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    const s = connect({ port: p, host: '127.0.0.1', allowHalfOpen: true });
    s.once('connect', () => resolve({ stream: s as Duplex, onClose: (e) => ends.push(e) }));
    s.once('error', (e) => resolve({ refuse: 'refused', message: e.message }));
  });
}

async function onConnect(req: EntryRequest): Promise<ConnectOutcome> {
  requests.push(req);
  switch (req.host) {
    case 'denied.test':
      return { refuse: 'not-allowed', message: 'denied by policy ns/deny-all' };
    case 'unreach.test':
      return { refuse: 'unreachable', message: 'no healthy endpoint' };
    case 'refused.test':
      return { refuse: 'refused', message: 'upstream refused' };
    case 'boom.test':
      throw new Error('planner exploded');
    case 'slow.test':
      return new Promise((_, reject) => req.signal.addEventListener('abort', () => {
        aborted.push(req.host);
        reject(new Error('aborted'));
      }));
    case 'tcp.test':
      return dial(tcpPort);
    case 'metered.test': {
      const out = await dial(tcpPort);
      if (!('stream' in out) || !out.stream) return out;
      const meter = tcp.open(tcpLabels({ reporter: 'source', source: { workload: 'client' }, service: { hostname: 'metered.test' }, securityPolicy: 'mutual_tls' }));
      return { stream: (out as { stream: Duplex }).stream, counts: meter, onClose: (e) => meter.close(e.error ? 'CONNECT' : '-') };
    }
    case 'late.test': {
      // A dial that does not heed the abort: the meter opens, the tunnel arrives after the client left.
      const meter = late.open(tcpLabels({ reporter: 'source', source: { workload: 'client' }, service: { hostname: 'late.test' }, securityPolicy: 'mutual_tls' }));
      await new Promise<void>((r) => req.signal.addEventListener('abort', () => setTimeout(r, 30)));
      const out = await dial(tcpPort);
      if (!('stream' in out) || !out.stream) return out;
      return { stream: (out as { stream: Duplex }).stream, counts: meter, onClose: (e) => meter.close(e.error ? 'CONNECT' : '-') };
    }
    default:
      return dial(httpPort);
  }
}
const late = new TcpMetrics();

beforeAll(async () => {
  httpBackend = httpEcho();
  tcpBackend = tcpEcho();
  httpPort = await listen(httpBackend);
  tcpPort = await listen(tcpBackend);
  proxy = new ProxyEntryServer({ host: '127.0.0.1', port: 0, onConnect, handshakeTimeoutMs: 400, connectTimeoutMs: 400 });
  port = (await proxy.start()).port;
});

afterAll(async () => {
  await proxy.drain(100);
  httpBackend.close();
  tcpBackend.close();
});

const last = () => requests[requests.length - 1]!;

describe('real clients', () => {
  test('curl --socks5-hostname: the name reaches onConnect unresolved', async () => {
    const r = await curl(['--socks5-hostname', `127.0.0.1:${port}`, `http://Echo.Mesh.Test:8080/hello`]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ method: 'GET', path: '/hello', host: 'Echo.Mesh.Test:8080' });
    expect(last()).toMatchObject({ host: 'echo.mesh.test', port: 8080, isName: true, protocol: 'socks5', sourceAddress: '127.0.0.1' });
    expect(last().sourcePort).toBeGreaterThan(0);
  });

  test('curl --socks5 (client-side resolution): an IPv4 address', async () => {
    const r = await curl(['--socks5', `127.0.0.1:${port}`, `http://127.0.0.1:${httpPort}/v4`]);
    expect(JSON.parse(r.stdout).path).toBe('/v4');
    expect(last()).toMatchObject({ host: '127.0.0.1', port: httpPort, isName: false });
  });

  test('curl -p -x: HTTP CONNECT tunnel', async () => {
    const r = await curl(['-p', '-x', `http://127.0.0.1:${port}`, 'http://svc.ns.svc.cluster.local:9000/tunnel']);
    expect(JSON.parse(r.stdout)).toMatchObject({ path: '/tunnel' });
    expect(last()).toMatchObject({ host: 'svc.ns.svc.cluster.local', port: 9000, isName: true, protocol: 'http-connect' });
  });

  test('curl -x without -p: 405 that says how to tunnel', async () => {
    const r = await curl(['-i', '-x', `http://127.0.0.1:${port}`, 'http://example.test/']);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 405 Method Not Allowed/);
    expect(r.stdout).toMatch(/Allow: CONNECT/);
    expect(r.stdout).toContain('--proxytunnel');
  });

  test('refusals: SOCKS codes 0x02/0x04/0x05/0x01, HTTP 403/502 with the message', async () => {
    for (const [host, code] of [['denied.test', 2], ['unreach.test', 4], ['refused.test', 5], ['boom.test', 1]] as const) {
      const r = await rawExchange(port, [GREETING, socksConnectName(host, 80)]);
      expect([...r.data.subarray(0, 4)], host).toEqual([5, 0, 5, code]);
      expect(r.closed).toBe(true);
    }
    const denied = await curl(['-p', '-x', `http://127.0.0.1:${port}`, 'http://denied.test/']);
    expect(denied.stderr).toMatch(/403/);
    const raw = await rawExchange(port, ['CONNECT unreach.test:80 HTTP/1.1\r\nHost: unreach.test:80\r\n\r\n']);
    expect(raw.data.toString()).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\nProxy-Status: weft; error=destination_unavailable/);
    expect(raw.data.toString()).toContain('no healthy endpoint');
  });

  test('IPv6 address type reaches onConnect as an IPv6 literal', async () => {
    const req = Uint8Array.of(5, 1, 0, 4, ...new Array(15).fill(0), 1, 0x1f, 0x90);
    const r = await rawExchange(port, [GREETING, req, 'GET / HTTP/1.0\r\n\r\n']);
    expect([...r.data.subarray(0, 4)]).toEqual([5, 0, 5, 0]);
    expect(last()).toMatchObject({ host: '::1', port: 8080, isName: false });
    expect(r.data.toString()).toContain('"path":"/"');
  });
});

describe('tunnel bytes', () => {
  test('early data, half-close and byte counts both ways', async () => {
    const payload = Buffer.alloc(3 * 1024 * 1024, 7);
    const before = ends.length;
    // Greeting, request and the first bytes in one segment (optimistic client), then a FIN.
    const r = await rawExchange(port, [Buffer.concat([GREETING, socksConnectName('tcp.test', 1), payload])], { end: true, timeoutMs: 10_000 });
    expect(r.closed).toBe(true);
    expect(r.data.length).toBe(2 + 10 + payload.length);
    expect(r.data.subarray(12).equals(payload)).toBe(true);
    await waitFor(() => ends.length > before);
    expect(ends[ends.length - 1]).toEqual({ received: payload.length, sent: payload.length });
  });

  test('a telemetry meter as the byte counts: Istio counters see the tunnel', async () => {
    const r = await rawExchange(port, [GREETING, socksConnectName('metered.test', 1), 'x'.repeat(1000)], { end: true });
    expect(r.data.length).toBe(12 + 1000);
    await waitFor(() => tcp.liveConnections === 0);
    const text = tcp.render();
    expect(text).toMatch(/^istio_tcp_received_bytes_total\{reporter="source",source_workload="client",.*destination_service="metered.test".*\} 1000$/m);
    expect(text).toMatch(/^istio_tcp_sent_bytes_total\{.*\} 1000$/m);
    expect(text).toMatch(/^istio_tcp_connections_closed_total\{.*response_flags="-".*\} 1$/m);
  });

  test('backpressure: a client that does not read stops the upstream, not the proxy memory', async () => {
    let written = 0;
    const total = 256 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 1);
    const blaster = createServer((s) => {
      s.on('error', () => s.destroy());
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
        s.end();
      };
      pump();
    });
    const blastPort = await listen(blaster);
    const p2 = new ProxyEntryServer({ port: 0, onConnect: () => dial(blastPort) });
    const port2 = (await p2.start()).port;
    const sock = connect({ port: port2, host: '127.0.0.1' });
    sock.pause(); // never reads
    sock.write(Buffer.concat([GREETING, socksConnectName('blast.test', 1)]));
    await new Promise((r) => setTimeout(r, 500));
    const rss0 = process.memoryUsage().rss;
    await new Promise((r) => setTimeout(r, 300));
    // Kernel buffers and stream high-water marks hold a few MB; without backpressure it would be all 256.
    expect(written).toBeLessThan(48 * 1024 * 1024);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(32 * 1024 * 1024);
    sock.destroy();
    await p2.drain(100);
    blaster.close();
  });
});

describe('bad input: clean close, server serves on', () => {
  test('handshake cut half way', async () => {
    const r = await rawExchange(port, [Uint8Array.of(5, 1)], { end: true });
    expect(r.data.length).toBe(0);
    const r2 = await rawExchange(port, [GREETING, Uint8Array.of(5, 1, 0, 3, 20, 97)], { end: true });
    expect([...r2.data]).toEqual([5, 0]);
  });

  test('garbage, binary and oversized heads get HTTP errors', async () => {
    const bin = await rawExchange(port, [Uint8Array.of(0x16, 3, 1, 0, 0xff, 0)]);
    expect(bin.data.toString()).toMatch(/^HTTP\/1\.1 400 /);
    expect(bin.closed).toBe(true);
    const bad = await rawExchange(port, ['CONNECT nohostport HTTP/1.1\r\n\r\n']);
    expect(bad.data.toString()).toMatch(/^HTTP\/1\.1 400 [^]*host:port/);
    const v6 = await rawExchange(port, ['CONNECT [::1:80 HTTP/1.1\r\n\r\n']);
    expect(v6.data.toString()).toMatch(/^HTTP\/1\.1 400 /);
    const big = await rawExchange(port, [`CONNECT a.test:80 HTTP/1.1\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`]);
    expect(big.data.toString()).toMatch(/^HTTP\/1\.1 431 /);
  });

  test('wrong versions and methods', async () => {
    const noAuth = await rawExchange(port, [Uint8Array.of(5, 1, 2)]);
    expect([...noAuth.data]).toEqual([5, 0xff]);
    expect(noAuth.closed).toBe(true);
    const v4 = await rawExchange(port, [GREETING, Uint8Array.of(4, 1, 0, 1, 127, 0, 0, 1, 0, 80)]);
    expect([...v4.data]).toEqual([5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    const socks4 = await rawExchange(port, [Uint8Array.of(4, 1, 0, 80, 127, 0, 0, 1, 0)]);
    expect(socks4.data.toString()).toMatch(/^HTTP\/1\.1 400 /);
  });

  test('BIND and UDP ASSOCIATE refused with 0x07, unknown address type with 0x08', async () => {
    for (const cmd of [2, 3, 9]) {
      const r = await rawExchange(port, [GREETING, socksRequest(cmd, [127, 0, 0, 1], 80)]);
      expect([...r.data.subarray(2, 4)], `cmd ${cmd}`).toEqual([5, 7]);
      expect(r.closed).toBe(true);
    }
    const atyp = await rawExchange(port, [GREETING, Uint8Array.of(5, 1, 0, 9, 1, 2, 3, 4, 0, 80)]);
    expect([...atyp.data.subarray(2, 4)]).toEqual([5, 8]);
    const emptyName = await rawExchange(port, [GREETING, Uint8Array.of(5, 1, 0, 3, 0, 0, 80)]);
    expect([...emptyName.data.subarray(2, 4)]).toEqual([5, 1]);
  });

  test('slow client: closed at the handshake timeout; HTTP gets 408', async () => {
    const t0 = Date.now();
    const r = await rawExchange(port, [Uint8Array.of(5)], { timeoutMs: 3000 });
    expect(r.closed).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2500);
    const h = await rawExchange(port, ['CONNECT a.test:80 HTTP/1.1\r\n'], { timeoutMs: 5000 });
    expect(h.data.toString()).toMatch(/^HTTP\/1\.1 408 /);
  });

  test('connect timeout: signal aborted, SOCKS 0x06, HTTP 504', async () => {
    const r = await rawExchange(port, [GREETING, socksConnectName('slow.test', 80)], { timeoutMs: 3000 });
    expect([...r.data.subarray(2, 4)]).toEqual([5, 6]);
    expect(aborted).toContain('slow.test');
    const h = await rawExchange(port, ['CONNECT slow.test:80 HTTP/1.1\r\n\r\n'], { timeoutMs: 3000 });
    expect(h.data.toString()).toMatch(/^HTTP\/1\.1 504 /);
  });

  test('client resets while onConnect runs: signal aborted at once, nothing leaks', async () => {
    const n = aborted.length;
    const t0 = Date.now();
    await rawExchange(port, [GREETING, socksConnectName('slow.test', 80)], { timeoutMs: 50, reset: true });
    await waitFor(() => aborted.length > n);
    expect(Date.now() - t0).toBeLessThan(300); // well before the 400 ms connect timeout
    await waitFor(() => proxy.connections === 0);
  });

  test('client gives up mid-dial: the late tunnel is dropped and its meter closed (opened == closed)', async () => {
    // A reset aborts the dial at once; a FIN is a half-close, so that one ends at the connect timeout.
    for (const reset of [true, false]) {
      await rawExchange(port, [GREETING, socksConnectName('late.test', 80)], { timeoutMs: 50, reset });
      await waitFor(() => late.liveConnections === 0);
    }
    const text = late.render();
    const count = (family: string) => [...text.matchAll(new RegExp(`^${family}\\{[^}]*\\} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    expect(count('istio_tcp_connections_opened_total')).toBe(2);
    expect(count('istio_tcp_connections_closed_total')).toBe(2);
    await waitFor(() => proxy.connections === 0);
  });

  test('client half-closes right after its request: the FIN reaches upstream after the tunnel opens', async () => {
    const r = await rawExchange(port, [GREETING, socksConnectName('tcp.test', 1), 'ping'], { end: true });
    expect(r.closed).toBe(true);
    expect(r.data.subarray(12).toString()).toBe('ping');
  });

  test('fuzz: 300 connections of random bytes, split at random, some reset', async () => {
    const rnd = (n: number) => Math.floor(Math.random() * n);
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => {
        const len = rnd(600);
        const bytes = Uint8Array.from({ length: len }, () => rnd(256));
        if (i % 2 === 0 && len > 0) bytes[0] = 5; // half of them enter the SOCKS parser
        if (i % 4 === 0 && len > 3) bytes.set([5, 1, 0], 0); // a quarter get past the greeting
        const cut = rnd(len + 1);
        return rawExchange(port, [bytes.subarray(0, cut), rnd(20), bytes.subarray(cut)], { end: i % 3 === 0, timeoutMs: 150 + rnd(200), reset: i % 5 === 0 });
      }),
    );
    await waitFor(() => proxy.connections === 0, 5000);
  });

  test('after all of that, curl still works and no connection is left', async () => {
    const r = await curl(['--socks5-hostname', `127.0.0.1:${port}`, 'http://after.test/ok']);
    expect(JSON.parse(r.stdout).path).toBe('/ok');
    await waitFor(() => proxy.connections === 0);
  });
});

describe('drain', () => {
  test('stops accepting, lets a live tunnel finish within the grace time', async () => {
    const p2 = new ProxyEntryServer({ port: 0, onConnect: () => dial(tcpPort) });
    const port2 = (await p2.start()).port;
    const sock = connect({ port: port2, host: '127.0.0.1' });
    const got: Buffer[] = [];
    sock.on('data', (d: Buffer) => got.push(d));
    sock.write(Buffer.concat([GREETING, socksConnectName('x.test', 1)]));
    await waitFor(() => Buffer.concat(got).length >= 12);
    const handshaking = connect({ port: port2, host: '127.0.0.1' });
    await new Promise((r) => handshaking.once('connect', r));
    await waitFor(() => p2.connections === 2);
    const drained = p2.drain(300);
    const refused = await rawExchange(port2, [GREETING]);
    expect(refused.error ?? '').toMatch(/ECONNREFUSED/);
    sock.write('still here');
    await waitFor(() => Buffer.concat(got).toString().endsWith('still here'));
    await drained;
    expect(p2.connections).toBe(0);
    sock.destroy();
    handshaking.destroy();
  });
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
