/**
 * Helpers for the SOCKS5 / HTTP CONNECT entry tests: an HTTP echo backend that answers with JSON
 * describing the request, a raw TCP echo (bytes back, FIN back after FIN), a raw client that
 * writes bytes and collects what comes back until the server closes, and curl as a child process.
 */
import { execFile } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export async function listen<T extends Server | HttpServer>(server: T): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** HTTP backend: JSON of method, path, host header. */
export function httpEcho(): HttpServer {
  return createHttpServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, path: req.url, host: req.headers.host }));
  });
}

/** Raw TCP echo: every byte back; ends its side when the client ends. */
export function tcpEcho(): Server {
  return createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
}

export interface RawResult {
  data: Buffer;
  /** The server closed (FIN or reset) before the deadline. */
  closed: boolean;
  error?: string;
}

/**
 * Connects, writes `chunks` (a number = a pause in ms), ends the write side when `end` is set, and
 * collects bytes until the server closes or `timeoutMs` passes (then resets when `reset` is set).
 */
export function rawExchange(port: number, chunks: (Uint8Array | string | number)[], opts: { end?: boolean; timeoutMs?: number; reset?: boolean } = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const sock: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const got: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (opts.reset && !closed) sock.resetAndDestroy();
      else sock.destroy();
      resolve({ data: Buffer.concat(got), closed, error });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 3000);
    sock.on('data', (d: Buffer) => got.push(d));
    sock.on('end', () => finish(true));
    sock.on('error', (e) => finish(true, e.message));
    sock.on('close', () => finish(true));
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (typeof c === 'number') await new Promise((r) => setTimeout(r, c));
        else if (!sock.destroyed) sock.write(c);
      }
      if (opts.end && !sock.destroyed) sock.end();
    });
  });
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function curl(args: string[], timeoutMs = 10_000): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', String(timeoutMs / 1000), ...args], { timeout: timeoutMs + 2000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** SOCKS5 greeting offering "no authentication". */
export const GREETING = Uint8Array.of(5, 1, 0);

/** A SOCKS5 request for an IPv4 destination. */
export function socksRequest(cmd: number, ip: [number, number, number, number], port: number): Uint8Array {
  return Uint8Array.of(5, cmd, 0, 1, ...ip, port >> 8, port & 255);
}

/** A SOCKS5 CONNECT to a domain name. */
export function socksConnectName(name: string, port: number): Uint8Array {
  const n = Buffer.from(name, 'latin1');
  return Uint8Array.of(5, 1, 0, 3, n.length, ...n, port >> 8, port & 255);
}
