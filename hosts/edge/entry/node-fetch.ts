/**
 * The Node entry's upstream fetch: `node:http(s)` with keep-alive pools instead of the global
 * fetch, because Node's fetch (undici) replaces the `Host` header with the URL's host (a gateway
 * must send the client's authority, or the route's host rewrite, to the endpoint's address) and
 * decompresses bodies it passes on. Only what edge-gateway.ts uses of fetch: method, headers,
 * body (bytes or a stream), signal; the answer's body is streamed.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

const NULL_BODY = new Set([101, 204, 205, 304]);

export function nodeFetch(o: { maxSockets?: number } = {}): typeof fetch {
  const http = new HttpAgent({ keepAlive: true, maxSockets: o.maxSockets ?? 256 });
  const https = new HttpsAgent({ keepAlive: true, maxSockets: o.maxSockets ?? 256 });
  return ((input: string | URL | Request, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const headers: Record<string, string | string[]> = {};
      new Headers(init.headers).forEach((v, k) => {
        // set-cookie and the like stay separate values
        const prev = headers[k];
        headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      });
      const secure = url.protocol === 'https:';
      const req = (secure ? httpsRequest : httpRequest)(
        { protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path: `${url.pathname}${url.search}`, method: init.method ?? 'GET', headers, agent: secure ? https : http, ...(secure && typeof headers.host === 'string' ? { servername: url.hostname } : {}) },
        (res: IncomingMessage) => {
          const h = new Headers();
          const raw = res.rawHeaders;
          for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
          const status = res.statusCode ?? 502;
          const body = NULL_BODY.has(status) || init.method === 'HEAD' ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
          if (body === null) res.resume();
          resolve(new Response(body, { status, headers: h }));
        },
      );
      req.on('error', reject);
      const signal = init.signal;
      if (signal) {
        if (signal.aborted) req.destroy(new Error('aborted'));
        signal.addEventListener('abort', () => req.destroy(new Error('The operation was aborted')), { once: true });
      }
      const b = init.body;
      if (b === null || b === undefined) req.end();
      else if (typeof b === 'string' || b instanceof Uint8Array) req.end(b);
      else if (b instanceof ArrayBuffer) req.end(new Uint8Array(b));
      else if (typeof (b as ReadableStream).getReader === 'function') Readable.fromWeb(b as import('node:stream/web').ReadableStream).on('error', (e) => req.destroy(e)).pipe(req);
      else reject(new Error('nodeFetch: unsupported body type'));
    })) as typeof fetch;
}
