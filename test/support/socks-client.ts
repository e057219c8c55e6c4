/**
 * A minimal SOCKS5 client (RFC 1928, no auth, CONNECT to an IPv4 address): a tunnel, or one HTTP/1.0
 * request through it (for loops that would otherwise spawn curl hundreds of times).
 */
import { connect, type Socket } from 'node:net';

export interface SocksTarget {
  /** The SOCKS5 listener, `host:port`. */
  proxy: string;
  localAddress?: string;
  ip: string;
  port: number;
}

/** Opens a SOCKS5 CONNECT to ip:port; `ready` resolves once the proxy has answered success. */
export function socksConnect(o: SocksTarget): { socket: Socket; ready: Promise<void> } {
  const i = o.proxy.lastIndexOf(':');
  const s = connect({ host: o.proxy.slice(0, i), port: Number(o.proxy.slice(i + 1)), ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
  const ready = new Promise<void>((resolve, reject) => {
    let stage = 0;
    let buf = Buffer.alloc(0);
    const fail = (m: string) => {
      s.destroy();
      reject(new Error(m));
    };
    const onEnd = () => fail('SOCKS5 proxy closed before its reply');
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        if (buf[1] !== 0) return fail(`method refused ${buf[1]}`);
        buf = buf.subarray(2);
        stage = 1;
        s.write(Buffer.from([5, 1, 0, 1, ...o.ip.split('.').map(Number), o.port >> 8, o.port & 255]));
      }
      if (stage === 1 && buf.length >= 10) {
        s.off('data', onData);
        s.off('end', onEnd);
        if (buf[1] !== 0) return fail(`SOCKS5 reply ${buf[1]}`);
        resolve();
      }
    };
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('data', onData);
    s.on('end', onEnd);
    s.once('error', reject);
  });
  return { socket: s, ready };
}

/**
 * One HTTP/1.0 request (`method` default GET, `host` header default the ip, + `headers`) through a
 * SOCKS5 tunnel; the status (0 if the reply has no status line) and the body.
 */
function socksHttp(o: SocksTarget & { path: string; method?: string; host?: string; headers?: Record<string, string>; timeoutMs?: number }): Promise<{ status: number; body: string; text: string }> {
  return new Promise((resolve, reject) => {
    const { socket: s, ready } = socksConnect(o);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('SOCKS5 request timed out'));
    }, o.timeoutMs ?? 5000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(e);
    };
    s.on('error', fail);
    ready.then(() => {
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
      s.on('end', () => {
        clearTimeout(timer);
        const text = buf.toString('utf8');
        const i = text.indexOf('\r\n\r\n');
        if (i < 0) return reject(new Error(`incomplete response: ${JSON.stringify(text.slice(0, 200))}`));
        resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), body: text.slice(i + 4), text });
      });
      const extra = Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      s.write(`${o.method ?? 'GET'} ${o.path} HTTP/1.0\r\nhost: ${o.host ?? o.ip}\r\n${extra}\r\n`);
    }, fail);
  });
}

/** A GET through SOCKS5; the body. */
export function socksHttpGet(o: SocksTarget & { path: string; timeoutMs?: number }): Promise<string> {
  return socksHttp(o).then((r) => r.body);
}

/** A request through SOCKS5; status and body, rejected if the answer has no HTTP status line. */
export async function socksHttpRequest(o: SocksTarget & { path: string; method?: string; host?: string; headers?: Record<string, string>; timeoutMs?: number }): Promise<{ status: number; body: string }> {
  const r = await socksHttp(o);
  if (!r.status) throw new Error(`incomplete response: ${JSON.stringify(r.text.slice(0, 200))}`);
  return { status: r.status, body: r.body };
}
