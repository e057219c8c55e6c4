/**
 * Close semantics through a splice between a TCP socket and an HBONE stream: a stream the other end
 * resets (RST_STREAM) resets the TCP connection (the app sees ECONNRESET, not a clean FIN it would
 * take for a complete answer), in both directions; a stream that ends cleanly still passes a FIN.
 * Node reports 'end' on a reset stream before 'aborted'/'error', so splice holds the FIN one turn.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { constants as h2 } from 'node:http2';
import { resetStream, splicePair, type SpliceEnd } from '../../hosts/node/servers/splice.ts';
import { HboneClient } from '../../hosts/node/hbone/index.ts';
import type { InboundTunnel } from '../../hosts/node/hbone/index.ts';
import { StaticCerts, dialAndSplice, echoBackend, listen, meshPki, startHboneServer, type TestServer } from './hbone-fixtures.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/a/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/b/sa/server';
const pki = meshPki();
const certs = new StaticCerts().set(pki.issue(CLIENT_ID));
const serverCert = pki.issue(SERVER_ID);

/** What the destination does with a tunnel, chosen per test. */
let onTunnel: (t: InboundTunnel) => void = dialAndSplice;
let srv: TestServer;
let echo: Awaited<ReturnType<typeof echoBackend>>;
let client: HboneClient;
let front: Server;
let frontPort = 0;
const frontEnds: SpliceEnd[] = [];
/** The source side's HBONE streams, newest last. */
const outbound: import('node:http2').ClientHttp2Stream[] = [];

beforeAll(async () => {
  echo = await echoBackend();
  srv = await startHboneServer({ certificate: () => serverCert, onTunnel: (t) => onTunnel(t) });
  client = new HboneClient({ certificates: certs, trustDomains: ['cluster.local'] });
  // the source node proxy's outbound side: each TCP connection spliced into its own tunnel
  front = createServer({ allowHalfOpen: true }, async (sock) => {
    sock.on('error', () => {});
    const t = await client.connect({
      sourceIdentity: CLIENT_ID,
      destination: { ip: '127.0.0.1', port: srv.port },
      expectedIdentities: [SERVER_ID],
      authority: `127.0.0.1:${echo.port}`,
      headers: {},
    });
    outbound.push(t.stream as import('node:http2').ClientHttp2Stream);
    frontEnds.push(await splicePair(sock, t.stream));
  });
  frontPort = await listen(front);
});

afterAll(async () => {
  front.close();
  client.close(true);
  await srv.close();
  echo.server.close();
});

interface Outcome {
  data: string;
  /** 'end' (FIN) or the error code seen on the socket. */
  how: string;
}

/** Connects through the front, writes `text`, and reports what came back and how it closed. */
function exchange(text: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const s: Socket = connect({ port: frontPort, host: '127.0.0.1', allowHalfOpen: true });
    let data = '';
    let how = '';
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('end', () => {
      how ||= 'end';
      s.end();
    });
    s.on('error', (e: NodeJS.ErrnoException) => (how = e.code ?? e.message));
    s.on('close', () => resolve({ data, how }));
    s.write(text);
  });
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('HBONE resets through a splice', () => {
  it("the destination resets the stream with Node's close(code) (END_STREAM, then RST_STREAM): the source client sees ECONNRESET, not a FIN", async () => {
    onTunnel = (t) => {
      const stream = t.accept();
      stream.once('data', () => {
        stream.write('pong');
        setTimeout(() => stream.close(h2.NGHTTP2_CONNECT_ERROR), 50);
      });
    };
    const before = frontEnds.length;
    const r = await exchange('ping');
    expect(r.data).toBe('pong');
    expect(r.how).toBe('ECONNRESET');
    await waitFor(() => frontEnds.length > before);
    expect(frontEnds.at(-1)!.error).toBeDefined();
    expect(frontEnds.at(-1)!.side).toBe('upstream');
  });

  it("Weft's resetStream sends RST_STREAM alone (no END_STREAM first): the source stream sees no 'end'", async () => {
    onTunnel = (t) => {
      const stream = t.accept();
      stream.once('data', () => {
        stream.write('pong');
        setTimeout(() => resetStream(stream), 50);
      });
    };
    const before = outbound.length;
    const sawEnd = waitFor(() => outbound.length > before).then(() => {
      const st = outbound.at(-1)!;
      let ended = false;
      st.on('end', () => (ended = true));
      return new Promise<boolean>((r) => st.on('close', () => r(ended)));
    });
    const r = await exchange('ping');
    expect(r).toEqual({ data: 'pong', how: 'ECONNRESET' });
    expect(await sawEnd).toBe(false);
    expect(outbound.at(-1)!.rstCode).toBe(h2.NGHTTP2_CONNECT_ERROR);
  });

  it('a reset with no data before it, and right after the response head, is a reset too', async () => {
    onTunnel = (t) => {
      const stream = t.accept();
      setImmediate(() => stream.close(h2.NGHTTP2_CANCEL));
    };
    expect((await exchange('ping')).how).toBe('ECONNRESET');
  });

  it('a stream the destination ends cleanly still passes a FIN', async () => {
    onTunnel = (t) => {
      const stream = t.accept();
      stream.once('data', () => stream.end('bye'));
      stream.resume();
    };
    const before = frontEnds.length;
    const r = await exchange('ping');
    expect(r).toEqual({ data: 'bye', how: 'end' });
    await waitFor(() => frontEnds.length > before);
    expect(frontEnds.at(-1)!.error).toBeUndefined();
  });

  it('echo with half-close still ends cleanly on both sides', async () => {
    onTunnel = dialAndSplice;
    const r = await new Promise<Outcome>((resolve) => {
      const s = connect({ port: frontPort, host: '127.0.0.1', allowHalfOpen: true });
      let data = '';
      let how = '';
      s.on('data', (d: Buffer) => (data += d.toString()));
      s.on('end', () => (how ||= 'end'));
      s.on('error', (e: NodeJS.ErrnoException) => (how = e.code ?? e.message));
      s.on('close', () => resolve({ data, how }));
      s.end('hello');
    });
    expect(r).toEqual({ data: 'hello', how: 'end' });
  });

  it('the source resets the stream: the destination app sees ECONNRESET', async () => {
    let backendSaw!: Promise<string>;
    const seen = new Promise<void>((ready) => {
      const backend = createServer({ allowHalfOpen: true }, (s) => {
        backendSaw = new Promise((resolve) => {
          let how = '';
          s.on('end', () => (how ||= 'end'));
          s.on('error', (e: NodeJS.ErrnoException) => (how = e.code ?? e.message));
          s.on('close', () => resolve(how || 'closed'));
        });
        s.pipe(s);
        backend.close();
        ready();
      });
      void listen(backend).then((port) => {
        onTunnel = (t) => {
          const up = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
          up.once('connect', () => void splicePair(t.accept(), up));
        };
        const sock = connect({ port: frontPort, host: '127.0.0.1', allowHalfOpen: true });
        sock.on('error', () => {});
        sock.once('data', () => {
          outbound.at(-1)!.close(h2.NGHTTP2_CANCEL);
          sock.destroy();
        });
        sock.write('ping');
      });
    });
    await seen;
    expect(await backendSaw).toBe('ECONNRESET');
  });
});
