/**
 * The HTTP call of ext_authz (core/policy/l7-ext-authz.ts builds the check request and reads the
 * answer): sent to an endpoint of the filter's `server_uri.cluster` as the proxy balances it (a
 * plain endpoint: HTTP/1.1 straight to it), else to the URI's host and port. HBONE endpoints
 * (an authorizer in the ambient mesh) are not dialed yet: the check fails (status_on_error or
 * failure_mode_allow). The answer's body is read up to 64 KiB.
 */
import { request } from 'node:http';
import type { CheckRequest, ExtAuthz } from '../../../../core/policy/l7-ext-authz.ts';
import type { UpstreamCluster } from '../../../../core/route/index.ts';

export interface ExtAuthzAnswer {
  status: number;
  /** Flat, lower-case names. */
  headers: string[];
  body: string;
}

const MAX_BODY = 64 * 1024;

export class ExtAuthzClient {
  constructor(private readonly cluster: (name: string) => UpstreamCluster | undefined) {}

  /** The authorizer's answer, or undefined when there was none (connection failure, timeout). */
  check(ext: ExtAuthz, c: CheckRequest): Promise<ExtAuthzAnswer | undefined> {
    let host: string;
    let port: number;
    const cl = ext.cluster ? this.cluster(ext.cluster) : undefined;
    const ep = cl?.pick();
    if (ep !== undefined) {
      if (ep.tunnel === 'HBONE') return Promise.resolve(undefined);
      host = ep.address;
      port = ep.port;
    } else {
      const m = /^https?:\/\/(\[[^\]]+\]|[^/:?#]+)(?::(\d+))?/.exec(ext.uri);
      if (!m) return Promise.resolve(undefined);
      host = m[1]!.replace(/^\[|\]$/g, '');
      port = m[2] ? Number(m[2]) : 80;
    }
    const headers: Record<string, string> = { host: c.authority };
    for (let i = 0; i < c.headers.length; i += 2) {
      const n = c.headers[i]!;
      headers[n] = headers[n] === undefined || n === 'host' || n === 'content-length' ? c.headers[i + 1]! : `${headers[n]}, ${c.headers[i + 1]!}`;
    }
    return new Promise((resolve) => {
      let done = false;
      const finish = (a: ExtAuthzAnswer | undefined) => {
        if (done) return;
        done = true;
        resolve(a);
      };
      const req = request({ host, port, method: c.method, path: c.path, headers, agent: false, timeout: ext.timeoutMs || 200, setHost: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          if (size < MAX_BODY) chunks.push(d);
          size += d.length;
        });
        res.on('end', () => {
          const flat: string[] = [];
          const raw = res.rawHeaders;
          for (let i = 0; i < raw.length; i += 2) flat.push(raw[i]!.toLowerCase(), raw[i + 1]!);
          finish({ status: res.statusCode ?? 0, headers: flat, body: Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8') });
        });
        res.on('error', () => finish(undefined));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => finish(undefined));
      req.end();
    });
  }
}
