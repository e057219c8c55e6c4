/**
 * HBONE end to end on loopback with real TLS 1.3 and certificates from Weft's CA: echo through a
 * tunnel with ztunnel's headers, stream sharing on one connection, the 4 MiB / 16 MiB windows on
 * both ends, 100 MB through one stream, half-close, a second connection past the stream limit, and
 * TLS resumption on a reconnect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, connect, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { splicePair } from '../../hosts/node/servers/splice.ts';
import { HboneClient, CONNECTION_WINDOW, STREAM_WINDOW, type HboneTunnel } from '../../hosts/node/hbone/index.ts';
import { baggageFor, forwardedFor } from '../../core/node/hbone-headers.ts';
import type { NodeWorkload } from '../../core/node/model.ts';
import { StaticCerts, echoBackend, listen, meshPki, roundTrip, startHboneServer, type TestServer } from './hbone-fixtures.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/a/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/b/sa/server';
const pki = meshPki();
const certs = new StaticCerts().set(pki.issue(CLIENT_ID));
const serverCert = pki.issue(SERVER_ID);
let srv: TestServer;
let echo: Awaited<ReturnType<typeof echoBackend>>;
let client: HboneClient;

// the CONNECT headers as the node proxy builds them (core/node/hbone-headers.ts), for a source workload
const SOURCE = { clusterId: 'c1', namespace: 'a', kind: 'deployment', workloadName: 'client', canonicalName: 'client', canonicalRevision: 'v1' } as NodeWorkload;
const HEADERS = { forwarded: forwardedFor('10.0.0.1:40000', 'echo.b.svc.cluster.local'), baggage: baggageFor(SOURCE), traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' };

const open = (c: HboneClient, extra: Partial<Parameters<HboneClient['connect']>[0]> = {}): Promise<HboneTunnel> =>
  c.connect({
    sourceIdentity: CLIENT_ID,
    destination: { ip: '127.0.0.1', port: srv.port },
    expectedIdentities: [SERVER_ID],
    authority: `127.0.0.1:${echo.port}`,
    headers: HEADERS,
    ...extra,
  });

beforeAll(async () => {
  echo = await echoBackend();
  srv = await startHboneServer({ certificate: () => serverCert });
  client = new HboneClient({ certificates: certs, trustDomains: ['cluster.local'] });
});

afterAll(async () => {
  client.close(true);
  await srv.close();
  echo.server.close();
});

describe('HBONE tunnel', () => {
  it('echoes through a tunnel, with the peer identities and ztunnel headers on both ends', async () => {
    const t = await open(client);
    expect(t.peerIdentity).toBe(SERVER_ID);
    expect((await roundTrip(t.stream, 'hello hbone')).toString()).toBe('hello hbone');
    const inbound = srv.tunnels.at(-1)!;
    expect(inbound.peerIdentity).toBe(CLIENT_ID);
    expect(inbound.authority).toBe(`127.0.0.1:${echo.port}`);
    expect(inbound.target).toEqual({ kind: 'ip', ip: '127.0.0.1', port: echo.port, family: 4 });
    expect(inbound.headers.forwarded).toBe('for="10.0.0.1:40000";host=echo.b.svc.cluster.local');
    expect(inbound.forwarded).toEqual({ for: '10.0.0.1:40000', host: 'echo.b.svc.cluster.local' });
    expect(inbound.headers.baggage).toBe('k8s.cluster.name=c1,k8s.namespace.name=a,k8s.deployment.name=client,service.name=client,service.version=v1');
    expect(inbound.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(inbound.peerChain[0]!.replace(/\s/g, '')).toBe(certs.current(CLIENT_ID)!.chainPems[0]!.replace(/\s/g, ''));
    const tls = srv.server.sessions()[0]!.socket as unknown as import('node:tls').TLSSocket;
    expect(tls.getProtocol()).toBe('TLSv1.3');
    expect(tls.alpnProtocol).toBe('h2');
    // AES-128-GCM: the cheaper of the two suites ztunnel allows (hbone/constants.ts HBONE_CIPHERSUITES)
    expect(tls.getCipher().standardName).toBe('TLS_AES_128_GCM_SHA256');
  });

  it('accepts both suites ztunnel allows, and picks AES-128-GCM for a peer that prefers AES-256 (as rustls does)', async () => {
    const me = certs.current(CLIENT_ID)!;
    const handshake = (ciphers: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: srv.port, key: me.keyPem, cert: me.chainPems.join(''), ca: [...me.rootPems], ciphers, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'], rejectUnauthorized: false });
        s.once('secureConnect', () => {
          resolve(s.getCipher().standardName);
          s.destroy();
        });
        s.once('error', reject);
      });
    expect(await handshake('TLS_AES_256_GCM_SHA384')).toBe('TLS_AES_256_GCM_SHA384');
    expect(await handshake('TLS_AES_128_GCM_SHA256')).toBe('TLS_AES_128_GCM_SHA256');
    expect(await handshake('TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256')).toBe('TLS_AES_128_GCM_SHA256');
  });

  it('carries many concurrent streams over one TLS connection', async () => {
    const before = client.dials;
    const tunnels = await Promise.all(Array.from({ length: 50 }, () => open(client)));
    const answers = await Promise.all(tunnels.map((t, i) => roundTrip(t.stream, `stream ${i}`)));
    answers.forEach((a, i) => expect(a.toString()).toBe(`stream ${i}`));
    expect(client.dials - before).toBe(0);
    expect(tunnels.every((t) => t.reused)).toBe(true);
    expect(srv.server.sessions()).toHaveLength(1);
  });

  it('uses 4 MiB stream and 16 MiB connection windows on both ends', async () => {
    const t = await open(client);
    const session = t.stream.session!;
    expect(session.localSettings.initialWindowSize).toBe(STREAM_WINDOW);
    expect(session.remoteSettings.initialWindowSize).toBe(STREAM_WINDOW);
    expect(session.state.effectiveLocalWindowSize).toBe(CONNECTION_WINDOW);
    const server = srv.server.sessions()[0]!;
    expect(server.localSettings.initialWindowSize).toBe(STREAM_WINDOW);
    expect(server.remoteSettings.initialWindowSize).toBe(STREAM_WINDOW);
    expect(server.state.effectiveLocalWindowSize).toBe(CONNECTION_WINDOW);
    expect(server.localSettings.maxConcurrentStreams).toBe(200);
    t.stream.close();
  });

  it('moves 100 MB through one stream both ways', async () => {
    const t = await open(client);
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const total = 100 * chunk.length;
    let received = 0;
    const start = process.hrtime.bigint();
    const done = new Promise<void>((resolve, reject) => {
      t.stream.on('data', (c: Buffer) => (received += c.length));
      t.stream.on('end', resolve);
      t.stream.on('error', reject);
    });
    for (let i = 0; i < 100; i++) if (!t.stream.write(chunk)) await new Promise((r) => t.stream.once('drain', r));
    t.stream.end();
    await done;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    expect(received).toBe(total);
    console.log(`100 MB echoed through one HBONE stream in ${seconds.toFixed(2)} s (${(100 / seconds).toFixed(0)} MB/s each way)`);
  }, 60_000);

  it('carries half-close both ways and splices to a socket with byte counts', async () => {
    // a local TCP listener whose connections are spliced into tunnels: the outbound side of a node proxy
    const counters: { received: number; sent: number }[] = [];
    const front: Server = createServer({ allowHalfOpen: true }, async (sock) => {
      const t = await open(client);
      const c = { received: 0, sent: 0 };
      counters.push(c);
      await splicePair(sock, t.stream, c);
    });
    const port = await listen(front);
    const sock = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const got = await roundTrip(sock, Buffer.alloc(300_000, 1));
    expect(got.length).toBe(300_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(counters[0]).toEqual({ received: 300_000, sent: 300_000 });
    front.close();
  });

  it('opens a second connection past 100 streams, and resumes TLS on reconnect', async () => {
    const c = new HboneClient({ certificates: certs, trustDomains: ['cluster.local'], idleTimeoutMs: 100 });
    const tunnels = await Promise.all(Array.from({ length: 150 }, () => open(c)));
    expect(c.dials).toBe(2);
    expect(c.stats().map((s) => s.streams).sort((a, b) => a - b)).toEqual([50, 100]);
    await Promise.all(tunnels.map((t) => roundTrip(t.stream, 'x')));
    // idle: both close; the next connect dials again and resumes with a ticket
    await new Promise((r) => setTimeout(r, 400));
    expect(c.stats()).toHaveLength(0);
    const t = await open(c);
    expect(c.dials).toBe(3);
    expect(c.stats()[0]!.resumed).toBe(true);
    expect(srv.tunnels.at(-1)!.peerIdentity).toBe(CLIENT_ID);
    await roundTrip(t.stream, 'resumed');
    c.close();
  });
});
