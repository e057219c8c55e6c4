/**
 * The Node entry's upstream fetch: `node:http(s)` with keep-alive pools instead of the global
 * fetch, because Node's fetch (undici) replaces the `Host` header with the URL's host (a gateway
 * must send the client's authority, or the route's host rewrite, to the endpoint's address) and
 * decompresses bodies it passes on. Only what edge-gateway.ts uses of fetch: method, headers,
 * body (bytes or a stream), signal.
 *
 * The hot path is kept to the work a proxy needs (test/bench/edge measured it): a body of known
 * length up to `bufferLimit` (64 KiB) is read whole and handed over as bytes, so the gateway
 * answers with one write and no web stream; larger or unknown-length bodies are streamed. The
 * answer carries its parts (upstream.ts UPSTREAM_PARTS): a fresh `Headers` the gateway changes
 * in place instead of copying. The abort listener lives only as long as the exchange it bounds.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { UPSTREAM_PARTS, type UpstreamParts } from '../upstream.ts';

const NULL_BODY = new Set([101, 204, 205, 304]);
const ABORTED = 'The operation was aborted';

export interface NodeFetchOptions {
  maxSockets?: number;
  /** The largest body of known length read whole before answering (default 64 KiB); 0 streams every body. */
  bufferLimit?: number;
}

function outgoingHeaders(init: HeadersInit | undefined): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const add = (v: string, k: string): void => {
    // set-cookie and the like stay separate values
    const prev = headers[k] as string | string[] | undefined;
    headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  };
  // the gateway hands over a Headers of its own: read it as it is, no copy
  (init instanceof Headers ? init : new Headers(init)).forEach(add);
  return headers;
}

function answer(status: number, headers: Headers, body: UpstreamParts['body']): Response {
  const res = new Response(body, { status, headers });
  (res as Response & { [UPSTREAM_PARTS]?: UpstreamParts })[UPSTREAM_PARTS] = { headers, body };
  return res;
}

export function nodeFetch(o: NodeFetchOptions = {}): typeof fetch {
  // noDelay: a streamed request body goes out in several writes, which Nagle would hold back
  const agentOptions = { keepAlive: true, maxSockets: o.maxSockets ?? 256, noDelay: true };
  const http = new HttpAgent(agentOptions);
  const https = new HttpsAgent(agentOptions);
  const bufferLimit = o.bufferLimit ?? 64 * 1024;
  return ((input: string | URL | Request, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const headers = outgoingHeaders(init.headers);
      const method = init.method ?? 'GET';
      const secure = url.protocol === 'https:';
      const signal = init.signal ?? undefined;
      let onAbort: (() => void) | undefined;
      const settle = (): void => {
        if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
        onAbort = undefined;
      };
      const fail = (e: Error): void => {
        settle();
        reject(e);
      };
      const req = (secure ? httpsRequest : httpRequest)(
        { protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path: `${url.pathname}${url.search}`, method, headers, agent: secure ? https : http, ...(secure && typeof headers.host === 'string' ? { servername: url.hostname } : {}) },
        (res: IncomingMessage) => {
          const h = new Headers();
          const raw = res.rawHeaders;
          for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
          const status = res.statusCode ?? 502;
          if (NULL_BODY.has(status) || method === 'HEAD') {
            res.resume();
            settle();
            return resolve(answer(status, h, null));
          }
          const cl = res.headers['content-length'];
          const length = cl === undefined ? -1 : Number(cl);
          if (length >= 0 && length <= bufferLimit) {
            // small and of known length: read whole (the route timeout covers it), answered as bytes
            const chunks: Buffer[] = [];
            let n = 0;
            res.on('data', (c: Buffer) => {
              chunks.push(c);
              n += c.length;
            });
            res.once('end', () => {
              settle();
              resolve(answer(status, h, (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n)) as Uint8Array<ArrayBuffer>));
            });
            res.once('error', fail);
            res.once('close', () => {
              if (!res.complete) fail(new Error(signal?.aborted ? ABORTED : 'upstream closed the connection before the whole body'));
            });
            return;
          }
          // big or of unknown length: streamed; the timeout bounds the head only (README.md)
          settle();
          resolve(answer(status, h, Readable.toWeb(res) as ReadableStream<Uint8Array>));
        },
      );
      req.on('error', fail);
      if (signal !== undefined) {
        if (signal.aborted) req.destroy(new Error(ABORTED));
        else {
          onAbort = () => req.destroy(new Error(ABORTED));
          signal.addEventListener('abort', onAbort, { once: true });
        }
      }
      const b = init.body;
      if (b === null || b === undefined) req.end();
      else if (typeof b === 'string' || b instanceof Uint8Array) req.end(b);
      else if (b instanceof ArrayBuffer) req.end(new Uint8Array(b));
      else if (typeof (b as ReadableStream).getReader === 'function') Readable.fromWeb(b as import('node:stream/web').ReadableStream).on('error', (e) => req.destroy(e)).pipe(req);
      else fail(new Error('nodeFetch: unsupported body type'));
    })) as typeof fetch;
}
