/**
 * The Gateway API conformance echo backend (echo-basic, registry.k8s.io/gateway-api/conformance/
 * echo-basic), in process: see /work/shared/reference/echo-backend.md. An HTTP/1.1 port and an h2c
 * port (HTTP/2 prior knowledge; HTTP/1.1 there gets 400 `Expected h2c request` unless it carries
 * `Upgrade: h2c`, which is then answered as plain HTTP/1.1, not upgraded), `/health`,
 * `/status/NNN`, `/ws` (WebSocket echo), the `/retry/...` simulator, `delay=`, `X-Echo-Set-Header`,
 * the JSON body with Go's field order, sorted header keys, one-space indent and HTML escaping, and
 * the stdout line the mirror tests count. Plus a small gRPC echo (raw bytes, no protos) for the L7
 * tests' trailers.
 */
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface EchoBackendOptions {
  host?: string;
  /** HTTP/1.1 port (0: any free port). */
  httpPort?: number;
  /** h2c port (0: any free port; null: none). */
  h2cPort?: number | null;
  /** The `httpPort` reported in bodies (HTTP_PORT); defaults to the bound HTTP port. */
  httpPortLabel?: string;
  pod?: string;
  namespace?: string;
  ingress?: string;
  service?: string;
  /** Where the "Echoing back ..." lines go (default: stdout). */
  log?: (line: string) => void;
}

export interface EchoBackend {
  httpPort: number;
  h2cPort: number;
  /** Lines logged so far. */
  lines: string[];
  close(): Promise<void>;
}

interface Req {
  uri: string;
  host: string;
  method: string;
  proto: 'HTTP/1.1' | 'HTTP/2.0';
  /** [name, value] pairs as received (Host excluded). */
  raw: string[];
  remote: string;
}

interface Answer {
  status: number;
  headers: [string, string][];
  body?: string;
  /** Reset the connection instead of answering (retry simulator). */
  reset?: boolean;
}

/** Go's textproto.CanonicalMIMEHeaderKey for token names. */
export function canonicalHeaderKey(name: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
  let upper = true;
  let out = '';
  for (const ch of name) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

/** Go's json.MarshalIndent(v, "", " "): same layout as JSON.stringify(v, null, 1), plus HTML escaping. */
export function goJson(v: unknown): string {
  return JSON.stringify(v, null, 1).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Parses a Go duration (`300ms`, `1.5s`, `1m30s`); undefined when invalid. Milliseconds. */
export function parseGoDuration(s: string): number | undefined {
  if (s === '0') return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '') return undefined;
  let total = 0;
  const re = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

export async function startEchoBackend(o: EchoBackendOptions = {}): Promise<EchoBackend> {
  const host = o.host ?? '127.0.0.1';
  const lines: string[] = [];
  const log = o.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const attempts = new Map<string, number>();
  let httpPortLabel = o.httpPortLabel ?? '';
  const sockets = new Set<Socket>();

  async function answer(r: Req): Promise<Answer> {
    const routePath = r.uri.split('?')[0]!.replace(/\/\/+/g, '/');
    if (routePath === '/health') return { status: 200, headers: [], body: 'OK' };
    if (routePath.startsWith('/status/')) {
      const m = /^\/status\/(\d\d\d)$/.exec(r.uri);
      if (!m) return { status: 400, headers: [] };
      return { status: Number(m[1]), headers: [] };
    }
    const q = new URLSearchParams(r.uri.includes('?') ? r.uri.slice(r.uri.indexOf('?') + 1) : '');
    if (routePath.startsWith('/retry/') || routePath === '/retry') {
      const uuid = q.get('uuid');
      const succeedAfter = q.get('succeedAfter');
      if (!uuid || succeedAfter === null || !/^\d+$/.test(succeedAfter)) return { status: 400, headers: [], body: 'uuid and succeedAfter are required' };
      const n = (attempts.get(uuid) ?? 0) + 1;
      attempts.set(uuid, n);
      const delayRetry = q.get('delayRetry');
      if (n <= Number(succeedAfter)) {
        if (delayRetry) {
          const ms = parseGoDuration(delayRetry);
          if (ms !== undefined) await sleep(ms);
        }
        const code = q.get('responseCode');
        if (code && /^\d{3}$/.test(code)) return { status: Number(code), headers: [] };
        return { status: 0, headers: [], reset: true };
      }
    }
    return echo(r, q);
  }

  async function echo(r: Req, q: URLSearchParams): Promise<Answer> {
    const line = `Echoing back request made to ${r.uri} to client (${r.remote})`;
    lines.push(line);
    log(line);
    const delay = q.get('delay');
    if (delay !== null) {
      const ms = parseGoDuration(delay);
      if (ms === undefined) return { status: 500, headers: [['Content-Type', 'application/json']], body: goJson({ message: `time: invalid duration ${goQuote(delay)}` }) };
      await sleep(ms);
    }
    const headers: Record<string, string[]> = {};
    const setHeaders: [string, string][] = [];
    for (let i = 0; i < r.raw.length; i += 2) {
      const name = r.raw[i]!;
      // Go's server moves Host to r.Host and Transfer-Encoding to r.TransferEncoding
      if (name.toLowerCase() === 'host' || name.toLowerCase() === 'transfer-encoding') continue;
      const key = canonicalHeaderKey(name);
      (headers[key] ??= []).push(r.raw[i + 1]!);
      if (name.toLowerCase() === 'x-echo-set-header') {
        for (const item of r.raw[i + 1]!.split(',')) {
          const t = item.trim();
          const c = t.indexOf(':');
          if (c < 0) continue;
          const n = t.slice(0, c);
          const v = t.slice(c + 1);
          const prev = setHeaders.find((p) => p[0] === n);
          if (prev) prev[1] += `,${v}`;
          else setHeaders.push([n, v]);
        }
      }
    }
    const sorted: Record<string, string[]> = {};
    for (const k of Object.keys(headers).sort()) sorted[k] = headers[k]!;
    const body = goJson({
      path: r.uri,
      host: r.host,
      method: r.method,
      proto: r.proto,
      headers: sorted,
      httpPort: httpPortLabel,
      namespace: o.namespace ?? '',
      ingress: o.ingress ?? '',
      service: o.service ?? '',
      pod: o.pod ?? '',
    });
    return { status: 200, headers: [['Content-Type', 'application/json'], ['X-Content-Type-Options', 'nosniff'], ...setHeaders], body };
  }

  function remoteOf(s: Socket | undefined): string {
    if (!s || !s.remoteAddress) return '';
    return s.remoteFamily === 'IPv6' ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
  }

  const onHttp1 = (h2cPort: boolean) => (req: IncomingMessage, res: ServerResponse): void => {
    if (h2cPort && (req.headers.upgrade ?? '').toLowerCase() !== 'h2c') {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Expected h2c request');
      return;
    }
    const r: Req = { uri: req.url ?? '/', host: req.headers.host ?? '', method: req.method ?? 'GET', proto: 'HTTP/1.1', raw: req.rawHeaders, remote: remoteOf(req.socket) };
    req.resume();
    void answer(r).then((a) => send(a, res, req.socket));
  };

  function send(a: Answer, res: ServerResponse | Http2ServerResponse, sock: Socket | undefined): void {
    if (a.reset) {
      const s = sock as Socket | undefined;
      if (s && typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
      else (res as Http2ServerResponse).stream?.close(2);
      return;
    }
    // Go trims each header value when it writes it (textproto.TrimString)
    for (const [n, v] of a.headers) res.setHeader(n, v.trim());
    res.statusCode = a.status;
    if (a.body === undefined) res.end();
    else (res as ServerResponse).end(a.body);
  }

  // HTTP/1.1 port (with the WebSocket echo on /ws)
  const http1 = createHttpServer({ keepAliveTimeout: 60_000 }, onHttp1(false));
  http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.url ?? '').split('?')[0] !== '/ws' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const key = String(req.headers['sec-websocket-key'] ?? '');
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    wsEcho(socket, head);
  });
  http1.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const httpPort = await listenOn(http1, o.httpPort ?? 0, host);
  if (!httpPortLabel) httpPortLabel = String(httpPort);

  // h2c port: prior-knowledge HTTP/2; HTTP/1.1 there is told to use h2c
  let h2cPort = 0;
  let h2c: Server | undefined;
  const h2 = createH2Server();
  const http1OnH2c = createHttpServer(onHttp1(true));
  if (o.h2cPort !== null) {
    h2.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      const raw: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) if (!req.rawHeaders[i]!.startsWith(':')) raw.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      const r: Req = { uri: req.url, host: String(req.headers[':authority'] ?? req.headers.host ?? ''), method: req.method, proto: 'HTTP/2.0', raw, remote: remoteOf(req.socket as Socket) };
      req.resume();
      void answer(r).then((a) => send(a, res, undefined));
    });
    h2.on('sessionError', () => {});
    h2c = createNetServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.once('readable', () => {
        const first = s.read(Math.min(s.readableLength, 4)) as Buffer | null;
        if (first) s.unshift(first);
        if (first && first.toString('latin1') === 'PRI '.slice(0, first.length)) h2.emit('connection', s);
        else http1OnH2c.emit('connection', s);
      });
    });
    h2cPort = await listenOn(h2c, o.h2cPort ?? 0, host);
  }

  return {
    httpPort,
    h2cPort,
    lines,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([closeServer(http1), h2c ? closeServer(h2c) : Promise.resolve()]);
      h2.close();
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function listenOn(s: Server | ReturnType<typeof createHttpServer>, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, host, () => resolve((s.address() as AddressInfo).port));
  });
}

function closeServer(s: Server | ReturnType<typeof createHttpServer>): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

/** RFC 6455 echo: unmasks client frames, sends text/binary back, answers ping, closes on close. */
function wsEcho(socket: Duplex, head: Buffer): void {
  let buf: Buffer = head.length ? Buffer.from(head) : Buffer.alloc(0);
  const onData = (d: Buffer): void => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    for (;;) {
      if (buf.length < 2) return;
      const op = buf[0]! & 0x0f;
      const masked = (buf[1]! & 0x80) !== 0;
      let len = buf[1]! & 0x7f;
      let p = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        p = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        p = 10;
      }
      const maskAt = p;
      if (masked) p += 4;
      if (buf.length < p + len) return;
      const payload = Buffer.from(buf.subarray(p, p + len));
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= buf[maskAt + (i % 4)]!;
      buf = buf.subarray(p + len);
      if (op === 0x8) {
        socket.end(wsFrame(0x8, payload));
        return;
      }
      if (op === 0x9) socket.write(wsFrame(0xa, payload));
      else if (op === 0x1 || op === 0x2 || op === 0x0) socket.write(wsFrame(op, payload));
    }
  };
  socket.on('data', onData);
  socket.on('error', () => {});
  if (buf.length) {
    const b = buf;
    buf = Buffer.alloc(0);
    onData(b);
  }
}

/** One unmasked frame (server to client); `mask` makes a masked one (client to server). */
export function wsFrame(op: number, payload: Buffer, mask?: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | op, len]) : len < 65536 ? Buffer.from([0x80 | op, 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0x80 | op, 127]), (() => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    return b;
  })()]);
  if (!mask) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  const body = Buffer.from(payload);
  for (let i = 0; i < len; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

// ---- gRPC echo: raw-bytes service, no protos

export interface GrpcEcho {
  port: number;
  close(): Promise<void>;
}

/**
 * `/weft.test.Echo/Unary` answers the request bytes with trailer `x-echo-trailer: done` and status
 * OK; `/weft.test.Echo/Fail` answers status 5 (NOT_FOUND) with message `no such thing`;
 * `/weft.test.Echo/Stream` (server streaming) sends the request bytes back three times.
 */
export async function startGrpcEcho(host = '127.0.0.1'): Promise<GrpcEcho> {
  const grpc = await import('@grpc/grpc-js');
  const id = (b: Buffer): Buffer => b;
  const def = {
    Unary: { path: '/weft.test.Echo/Unary', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
    Fail: { path: '/weft.test.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
    Stream: { path: '/weft.test.Echo/Stream', requestStream: false, responseStream: true, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  };
  const server = new grpc.Server();
  server.addService(def as never, {
    Unary: (call: { request: Buffer; metadata: unknown }, cb: (err: unknown, value?: Buffer, trailer?: unknown) => void) => {
      const trailer = new grpc.Metadata();
      trailer.set('x-echo-trailer', 'done');
      cb(null, call.request, trailer);
    },
    Fail: (_call: unknown, cb: (err: unknown) => void) => cb({ code: 5, details: 'no such thing' }),
    Stream: (call: { request: Buffer; write(b: Buffer): void; end(): void }) => {
      for (let i = 0; i < 3; i++) call.write(call.request);
      call.end();
    },
  } as never);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    port,
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
}
