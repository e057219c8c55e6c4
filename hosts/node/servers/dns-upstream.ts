/**
 * Forwarding for names the mesh does not own: the query's bytes go to the upstream resolvers
 * unchanged (same transport as the client used, so truncation and TCP retry work end to end) and
 * the upstream's answer comes back unchanged, NXDOMAIN included. Each UDP query uses its own
 * connected socket (a fresh random source port, and only the upstream's address is accepted:
 * RFC 5452's defences against spoofed answers). Upstreams are tried in order within one deadline.
 */
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { connect, isIPv6 } from 'node:net';
import { isResponseTo } from './dns-wire.ts';

export interface Upstream {
  host: string;
  port: number;
}

/** `10.0.0.10`, `10.0.0.10:53`, `[fd00::1]:5353`, `fd00::1`. Undefined when not an IP address. */
export function parseUpstream(text: string): Upstream | undefined {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(text);
  const host = m ? m[1]! : text;
  const port = m?.[2] ? Number(m[2]) : 53;
  const bare = host.split('%')[0]!;
  if (!/^[0-9.]+$/.test(bare) && !isIPv6(bare)) return undefined;
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** `nameserver` lines of a resolv.conf text, in order; glibc's 127.0.0.1 when there are none. */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const u = m ? parseUpstream(m[1]!) : undefined;
    if (u) out.push(u);
  }
  return out.length > 0 ? out : [{ host: '127.0.0.1', port: 53 }];
}

export async function readResolvConf(path = '/etc/resolv.conf'): Promise<Upstream[]> {
  try {
    return parseResolvConf(await readFile(path, 'utf8'));
  } catch {
    return [{ host: '127.0.0.1', port: 53 }];
  }
}

/**
 * Sends `query` to the upstreams in order until one answers, within `timeoutMs` overall (each
 * upstream gets an equal share). Undefined when none answered in time.
 */
export async function forward(query: Uint8Array, id: number, upstreams: Upstream[], transport: 'udp' | 'tcp', timeoutMs: number): Promise<Uint8Array | undefined> {
  const deadline = Date.now() + timeoutMs;
  const share = Math.max(50, Math.floor(timeoutMs / Math.max(1, upstreams.length)));
  for (const u of upstreams) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const wait = Math.min(left, share);
    const answer = await (transport === 'udp' ? askUdp(query, id, u, wait) : askTcp(query, id, u, wait)).catch(() => undefined);
    if (answer) return answer;
  }
  return undefined;
}

function askUdp(query: Uint8Array, id: number, u: Upstream, timeoutMs: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket(isIPv6(u.host.split('%')[0]!) ? 'udp6' : 'udp4');
    let settled = false;
    const done = (answer: Uint8Array | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      resolve(answer);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('error', () => done(undefined));
    sock.on('message', (msg) => {
      if (isResponseTo(msg, id)) done(msg); // anything else (late or forged) is ignored
    });
    sock.connect(u.port, u.host, () => sock.send(query));
  });
}

function askTcp(query: Uint8Array, id: number, u: Upstream, timeoutMs: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host: u.host, port: u.port });
    let buf: Buffer = Buffer.alloc(0);
    let settled = false;
    const done = (answer: Uint8Array | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('error', () => done(undefined));
    sock.on('close', () => done(undefined));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (buf.length < 2) return;
      const n = buf.readUInt16BE(0);
      if (buf.length < 2 + n) return;
      const msg = buf.subarray(2, 2 + n);
      done(isResponseTo(msg, id) ? msg : undefined);
    });
  });
}
