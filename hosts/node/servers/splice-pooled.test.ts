import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BUFFER_LIMIT, H2_BUFFER_LIMIT, onFirstBulkTransfer, POOLED_READS, splice, splicePair, type SpliceEnd } from './splice.ts';

/**
 * Pooled reads recycle their 64 KiB buffers once a write completes: a buffer handed back too early
 * would let a later read overwrite bytes still queued, so these tests push more than the free list
 * holds through a slow sink and compare digests end to end.
 */
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function listen(onConnection: (s: Socket) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function connected(port: number, pooled: boolean): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true, ...(pooled ? { onread: POOLED_READS } : {}) });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('splice with pooled reads', () => {
  it('carries a bulk transfer byte for byte through a slow reader, with the buffers recycled', async () => {
    const payload = randomBytes(24 * 1024 * 1024);
    const want = createHash('sha256').update(payload).digest('hex');
    // the origin: sends the payload, then FIN
    const originPort = await listen((s) => s.end(payload));
    // the sink: reads slowly (pauses every 1 MB), hashes what it got
    let got = '';
    let gotBytes = 0;
    const sinkDone = new Promise<void>((resolve) => {
      void listen((s) => {
        const h = createHash('sha256');
        let sinceBreak = 0;
        s.on('data', (d: Buffer) => {
          h.update(d);
          gotBytes += d.length;
          sinceBreak += d.length;
          if (sinceBreak > 1024 * 1024) {
            sinceBreak = 0;
            s.pause();
            setTimeout(() => s.resume(), 2);
          }
        });
        s.on('end', () => {
          got = h.digest('hex');
          s.end();
          resolve();
        });
      }).then((port) => (sinkPort = port));
    });
    let sinkPort = 0;
    while (!sinkPort) await new Promise((r) => setTimeout(r, 5));
    const client = await connected(sinkPort, false);
    const upstream = await connected(originPort, true);
    const end = await splicePair(client, upstream);
    await sinkDone;
    expect(gotBytes).toBe(payload.length);
    expect(got).toBe(want);
    expect(end.sent).toBe(payload.length);
    expect(end.error).toBeUndefined();
  });

  it('keeps what a server says before the splice starts (a banner) and passes it on first', async () => {
    const originPort = await listen((s) => {
      s.write('220 ready\r\n');
      s.on('data', (d: Buffer) => s.end(`echo ${d.toString()}`));
    });
    let received = '';
    let sinkPort = 0;
    const done = new Promise<void>((resolve) => {
      void listen((s) => {
        s.on('data', (d: Buffer) => {
          received += d.toString();
          if (received === '220 ready\r\n') s.write('hello');
        });
        s.on('end', () => {
          s.end();
          resolve();
        });
      }).then((p) => (sinkPort = p));
    });
    while (!sinkPort) await new Promise((r) => setTimeout(r, 5));
    const upstream = await connected(originPort, true);
    // the banner arrives while nothing is spliced yet
    await new Promise((r) => setTimeout(r, 50));
    const client = await connected(sinkPort, false);
    const end = await splicePair(client, upstream);
    await done;
    expect(received).toBe('220 ready\r\necho hello');
    expect(end.error).toBeUndefined();
    expect(end.sent).toBe('220 ready\r\necho hello'.length);
    expect(end.received).toBe(5);
  }, 10_000);

  it('tells the bulk hook once, when one connection has carried more than 4 MiB', async () => {
    let told = 0;
    onFirstBulkTransfer(() => told++);
    try {
      const small = Buffer.alloc(3 * 1024 * 1024, 1);
      const big = Buffer.alloc(5 * 1024 * 1024, 2);
      const through = async (payload: Buffer) => {
        const originPort = await listen((s) => s.end(payload));
        const sinkPort = await listen((s) => {
          s.resume();
          s.on('end', () => s.end());
        });
        await splicePair(await connected(sinkPort, false), await connected(originPort, true));
      };
      await through(small);
      await through(small); // 6 MiB in all, but no single connection over 4 MiB
      expect(told).toBe(0);
      await through(big);
      expect(told).toBe(1);
      await through(big);
      expect(told).toBe(1);
    } finally {
      onFirstBulkTransfer(undefined);
    }
  });

  it('carries a bulk transfer byte for byte into an HTTP/2 stream (the HBONE direction), recycling only after the session wrote', async () => {
    const payload = randomBytes(24 * 1024 * 1024);
    const want = createHash('sha256').update(payload).digest('hex');
    const originPort = await listen((s) => s.end(payload));
    // the inbound node proxy's side: each CONNECT stream spliced to a pooled-read socket to the origin
    const h2server = http2.createServer({ settings: { initialWindowSize: 4 * 1024 * 1024 } });
    h2server.on('stream', (stream) => {
      (stream as http2.ServerHttp2Stream).respond({ ':status': 200 });
      const upstream = connect({ port: originPort, host: '127.0.0.1', allowHalfOpen: true, onread: POOLED_READS });
      upstream.once('connect', () => void splicePair(stream, upstream));
    });
    await new Promise<void>((r) => h2server.listen(0, '127.0.0.1', r));
    try {
      const session = http2.connect(`http://127.0.0.1:${(h2server.address() as AddressInfo).port}`);
      const req = session.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:1' });
      req.end();
      const h = createHash('sha256');
      let n = 0;
      let sinceBreak = 0;
      await new Promise<void>((resolve, reject) => {
        req.on('data', (d: Buffer) => {
          h.update(d);
          n += d.length;
          sinceBreak += d.length;
          if (sinceBreak > 2 * 1024 * 1024) {
            // a slow reader: the session's writes back up and the free list runs dry and refills
            sinceBreak = 0;
            req.pause();
            setTimeout(() => req.resume(), 3);
          }
        });
        req.on('end', resolve);
        req.on('error', reject);
      });
      session.close();
      expect(n).toBe(payload.length);
      expect(h.digest('hex')).toBe(want);
    } finally {
      h2server.close();
    }
  }, 20_000);

  it('into an HTTP/2 stream: stops reading the origin at H2_BUFFER_LIMIT while the reader stalls, then delivers every byte in order, with the client half-closed', async () => {
    const payload = randomBytes(32 * 1024 * 1024);
    const want = createHash('sha256').update(payload).digest('hex');
    // the origin sends the payload only after the client's FIN (half-close passed through), and records what it got
    let originGot = '';
    const originPort = await listen((s) => {
      s.on('data', (d: Buffer) => (originGot += d.toString()));
      s.on('end', () => s.end(payload));
    });
    const counts = { received: 0, sent: 0 };
    let serverStream: http2.ServerHttp2Stream | undefined;
    let spliceEnd: Promise<SpliceEnd> | undefined;
    const h2server = http2.createServer();
    h2server.on('stream', (stream) => {
      serverStream = stream as http2.ServerHttp2Stream;
      serverStream.respond({ ':status': 200 });
      const upstream = connect({ port: originPort, host: '127.0.0.1', allowHalfOpen: true, onread: POOLED_READS });
      upstream.once('connect', () => (spliceEnd = new Promise((resolve) => splice(stream, upstream, counts, { onSpliceEnd: resolve }))));
    });
    await new Promise<void>((r) => h2server.listen(0, '127.0.0.1', r));
    try {
      const session = http2.connect(`http://127.0.0.1:${(h2server.address() as AddressInfo).port}`);
      const req = session.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:1' });
      req.pause(); // the stalled reader: nothing is read until resumed below
      req.end('hello');
      // sample the sink's buffer until the origin is no longer being read (backpressure reached it)
      let maxBuffered = 0;
      let last = -1;
      let stableFor = 0;
      while (stableFor < 10) {
        await new Promise((r) => setTimeout(r, 20));
        if (serverStream) maxBuffered = Math.max(maxBuffered, serverStream.writableLength);
        stableFor = counts.sent > 0 && counts.sent === last ? stableFor + 1 : 0;
        last = counts.sent;
      }
      expect(originGot).toBe('hello');
      expect(counts.received).toBe(5);
      // paused: far from all of it read, and the sink never held more than the limit plus one read
      expect(counts.sent).toBeLessThan(payload.length / 2);
      expect(maxBuffered).toBeLessThanOrEqual(H2_BUFFER_LIMIT + 64 * 1024);
      // ...and paused because of that limit (past it, nothing drains while the reader stalls), not at
      // the 256 KiB a socket sink gets
      expect(serverStream!.writableLength).toBeGreaterThan(H2_BUFFER_LIMIT);
      expect(H2_BUFFER_LIMIT).toBeGreaterThan(BUFFER_LIMIT);
      const h = createHash('sha256');
      let n = 0;
      await new Promise<void>((resolve, reject) => {
        req.on('data', (d: Buffer) => {
          h.update(d);
          n += d.length;
        });
        req.on('end', resolve);
        req.on('error', reject);
        req.resume();
      });
      session.close();
      expect(n).toBe(payload.length);
      expect(h.digest('hex')).toBe(want);
      const end = await spliceEnd!;
      expect(end.error).toBeUndefined();
      expect(end.sent).toBe(payload.length);
    } finally {
      h2server.close();
    }
  }, 20_000);
});
