/**
 * A minimal SOCKS5 client (RFC 1928, no auth, CONNECT to an IPv4 address) that sends one HTTP/1.0
 * GET and returns the body: for loops that would otherwise spawn curl hundreds of times.
 */
import { connect } from 'node:net';

export function socksHttpGet(o: { proxy: string; localAddress?: string; ip: string; port: number; path: string; timeoutMs?: number }): Promise<string> {
  const [host, port] = [o.proxy.slice(0, o.proxy.lastIndexOf(':')), Number(o.proxy.slice(o.proxy.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('SOCKS5 request timed out'));
    }, o.timeoutMs ?? 5000);
    let stage = 0;
    let buf = Buffer.alloc(0);
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        if (buf[1] !== 0) return fail(`method refused ${buf[1]}`);
        buf = buf.subarray(2);
        stage = 1;
        const ip = o.ip.split('.').map(Number);
        s.write(Buffer.from([5, 1, 0, 1, ...ip, o.port >> 8, o.port & 255]));
      }
      if (stage === 1 && buf.length >= 10) {
        if (buf[1] !== 0) return fail(`SOCKS5 reply ${buf[1]}`);
        buf = buf.subarray(10);
        stage = 2;
        s.write(`GET ${o.path} HTTP/1.0\r\nhost: ${o.ip}\r\n\r\n`);
      }
    });
    s.on('end', () => {
      clearTimeout(timer);
      const text = buf.toString('utf8');
      const i = text.indexOf('\r\n\r\n');
      if (stage !== 2 || i < 0) return reject(new Error(`incomplete response: ${JSON.stringify(text.slice(0, 200))}`));
      resolve(text.slice(i + 4));
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    function fail(m: string) {
      clearTimeout(timer);
      s.destroy();
      reject(new Error(m));
    }
  });
}
