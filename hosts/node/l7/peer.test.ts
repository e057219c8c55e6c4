/**
 * The peer a host hands to `L7Server.handleConnection(duplex, remote)` (a waypoint's HBONE stream:
 * the original client, the tunnel peer's SPIFFE id, the address it was sent to) shows on every
 * request view: HTTP/1.1 and HTTP/2 (prior-knowledge h2c), on a socket and on a Duplex that is no
 * socket (an HTTP/2 CONNECT stream, whose h2 session has no remote address of its own).
 */
import { connect as h2connect, createServer as createH2Server, type ClientHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DownstreamPeer, L7Exchange, L7Handler } from './handler.ts';
import { L7Server } from './server.ts';

/** Answers each request with what its view says of the peer. */
class PeerEcho implements L7Handler {
  request(ex: L7Exchange): void {
    const h = ex.request;
    ex.respond(200, ['content-type', 'application/json'], JSON.stringify({ protocol: h.protocol, remoteAddress: h.remoteAddress, remotePort: h.remotePort, peerPrincipal: h.peerPrincipal ?? null, localAddress: h.localAddress ?? null, workload: h.peer?.workload ?? null }));
  }
}

const PEER: DownstreamPeer = { address: '10.0.0.7', port: 4242, peerPrincipal: 'spiffe://cluster.local/ns/demo/sa/client', localAddress: '10.96.0.1', workload: 'client-1' };
const EXPECTED = { remoteAddress: '10.0.0.7', remotePort: 4242, peerPrincipal: PEER.peerPrincipal, localAddress: '10.96.0.1', workload: 'client-1' };

let l7: L7Server;
/** Plain TCP, handed in with the peer. */
let tcp: Server;
/** An h2 server whose CONNECT streams are handed in with the peer (the waypoint's shape). */
const inbound = createH2Server();
let tunnels: ClientHttp2Session;

beforeAll(async () => {
  l7 = new L7Server(new PeerEcho());
  tcp = createNetServer({ allowHalfOpen: true }, (s) => l7.handleConnection(s, PEER));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  inbound.on('stream', (stream: ServerHttp2Stream) => {
    stream.respond({ ':status': 200 });
    l7.handleConnection(stream, PEER);
  });
  await new Promise<void>((r) => inbound.listen(0, '127.0.0.1', () => r()));
  tunnels = h2connect(`http://127.0.0.1:${(inbound.address() as AddressInfo).port}`);
});

afterAll(async () => {
  tunnels?.close();
  inbound.close();
  tcp?.close();
  await l7?.close(100);
});

function connectStream(): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = tunnels.request({ ':method': 'CONNECT', ':authority': '10.96.0.1:80' });
    s.once('response', (h) => (h[':status'] === 200 ? resolve(s) : reject(new Error(`CONNECT ${h[':status']}`))));
    s.once('error', reject);
  });
}

/** One HTTP/1.1 request over `s`; the JSON body. */
function http1Over(s: Duplex): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let text = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      text += d;
      const i = text.indexOf('\r\n\r\n');
      const len = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? -1);
      if (i >= 0 && len >= 0 && text.length >= i + 4 + len) {
        resolve(JSON.parse(text.slice(i + 4, i + 4 + len)) as Record<string, unknown>);
        s.destroy();
      }
    });
    s.once('error', reject);
    s.write('GET /peer HTTP/1.1\r\nhost: svc\r\n\r\n');
  });
}

/** One h2c request over `s` (prior knowledge); the JSON body. */
async function h2Over(s: Duplex): Promise<Record<string, unknown>> {
  const c = h2connect('http://svc', { createConnection: () => s });
  try {
    return await new Promise((resolve, reject) => {
      const req = c.request({ ':path': '/peer' });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
      req.on('error', reject);
      req.end();
    });
  } finally {
    c.close();
  }
}

function tcpSocket(): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port: (tcp.address() as AddressInfo).port }, () => resolve(s));
    s.once('error', reject);
  });
}

describe('the downstream peer on the request view', () => {
  test('HTTP/1.1 on a socket handed in with a peer', async () => {
    expect(await http1Over(await tcpSocket())).toEqual({ protocol: 'HTTP/1.1', ...EXPECTED });
  });

  test('h2c on a socket handed in with a peer', async () => {
    expect(await h2Over(await tcpSocket())).toEqual({ protocol: 'HTTP/2', ...EXPECTED });
  });

  test('HTTP/1.1 on a CONNECT stream (no socket)', async () => {
    expect(await http1Over(await connectStream())).toEqual({ protocol: 'HTTP/1.1', ...EXPECTED });
  });

  test('h2c on a CONNECT stream: the session has no peer of its own, the view still has the host`s', async () => {
    const a = await h2Over(await connectStream());
    expect(a).toEqual({ protocol: 'HTTP/2', ...EXPECTED });
  });

  test('without a peer: the socket`s address, no principal', async () => {
    const plain = new L7Server(new PeerEcho());
    const { port } = await plain.listen(0);
    try {
      const s = await new Promise<Duplex>((resolve, reject) => {
        const c = netConnect({ host: '127.0.0.1', port }, () => resolve(c));
        c.once('error', reject);
      });
      const a = await http1Over(s);
      expect(a).toMatchObject({ remoteAddress: '127.0.0.1', peerPrincipal: null, localAddress: null, workload: null });
      expect(a.remotePort).toBeGreaterThan(0);
      const h2 = await h2Over(await new Promise<Duplex>((resolve) => {
        const c = netConnect({ host: '127.0.0.1', port }, () => resolve(c));
      }));
      expect(h2).toMatchObject({ protocol: 'HTTP/2', remoteAddress: '127.0.0.1', peerPrincipal: null });
    } finally {
      await plain.close(100);
    }
  });
});
