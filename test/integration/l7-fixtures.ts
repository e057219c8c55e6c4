/**
 * Shared pieces of the L7 engine tests: a proxy (L7Server + ForwardAllHandler) in front of an
 * upstream, raw-socket exchanges, curl, a self-signed certificate.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ForwardAllHandler } from '../../hosts/node/l7/forward-all-handler.ts';
import type { Upstream } from '../../hosts/node/l7/handler.ts';
import { L7Server, type L7ServerOptions } from '../../hosts/node/l7/server.ts';
import { Http1Endpoint, tcpDial, type Http1PoolOptions } from '../../hosts/node/l7/upstream-pool.ts';

export interface Proxy {
  server: L7Server;
  handler: ForwardAllHandler;
  endpoint: Http1Endpoint;
  port: number;
  close(): Promise<void>;
}

export async function startProxy(upstreamPort: number, o: { server?: L7ServerOptions; pool?: Http1PoolOptions; timeoutMs?: number; grpcUpstream?: Upstream } = {}): Promise<Proxy> {
  const endpoint = new Http1Endpoint(`127.0.0.1:${upstreamPort}`, tcpDial('127.0.0.1', upstreamPort), o.pool);
  const handler = new ForwardAllHandler(endpoint, { record: true, timeoutMs: o.timeoutMs, grpcUpstream: o.grpcUpstream });
  const server = new L7Server(handler, o.server);
  const a = await server.listen(0);
  return {
    server,
    handler,
    endpoint,
    port: a.port,
    async close() {
      await server.close(200);
      endpoint.close();
    },
  };
}

export interface RawReply {
  text: string;
  closed: boolean;
  /** Milliseconds until the connection closed (or the wait ended). */
  ms: number;
}

/**
 * Writes `chunks` (a number: wait that many ms) on a fresh connection and collects what comes back
 * until the peer closes or `waitMs` passes.
 */
export function raw(port: number, chunks: (string | Buffer | number)[], waitMs = 1500, until?: (text: string) => boolean): Promise<RawReply> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let text = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on('data', (d) => {
      text += d.toString('latin1');
      if (until?.(text)) finish(false);
    });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('connect', async () => {
      for (const c of chunks) {
        if (typeof c === 'number') await new Promise((r) => setTimeout(r, c));
        else if (!s.destroyed) s.write(c);
      }
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
    execFile('curl', ['-sS', ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A self-signed P-256 certificate for 127.0.0.1/localhost. */
export function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-l7-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Splits the JSON bodies out of a stream of HTTP/1.1 responses (echo backend answers). */
export function echoPaths(text: string): string[] {
  return [...text.matchAll(/"path": "([^"]*)"/g)].map((m) => m[1]!);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
