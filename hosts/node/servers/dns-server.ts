/**
 * The node proxy's DNS proxy on 15053, UDP and TCP (ztunnel's DNS proxy): A and AAAA questions for
 * names the mesh knows (service FQDNs, ServiceEntry hosts: the node proxy's `resolve`) are answered
 * here with a short TTL; everything else is forwarded to the upstream resolvers (/etc/resolv.conf
 * unless given) and relayed unchanged. Over UDP a mesh answer too large for the client is sent
 * truncated (TC), and the client retries over TCP (RFC 7766). Packets that are not queries are
 * dropped; malformed queries get FORMERR.
 * Besides its own sockets it serves sockets made elsewhere (`serveUdp`, `serveTcp`): the in-pod
 * 127.0.0.1:15053 and [::1]:15053 sockets that DNS capture redirects each enrolled pod's port 53 to.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { parseIp } from '../../../core/net/ip.ts';
import { forward, parseUpstream, readResolvConf, type Upstream } from './dns-upstream.ts';
import * as wire from './dns-wire.ts';
import { plainAddress } from './target.ts';

export interface DnsLookup {
  addresses: string[];
}

export interface DnsServerOptions {
  host?: string;
  /** Default 15053; 0 picks a free port, the same for UDP and TCP. */
  port?: number;
  /** Mesh names: a lowercase name without trailing dot and the client's address; undefined = not ours. */
  resolve(name: string, clientAddress: string): DnsLookup | undefined | Promise<DnsLookup | undefined>;
  /** Upstream resolvers (`ip`, `ip:port`, `[v6]:port`); default: nameservers of `resolvConf`. */
  upstreams?: string[];
  resolvConf?: string;
  /** TTL of mesh answers, seconds (ztunnel uses 30). */
  ttlSeconds?: number;
  /** Deadline for an upstream answer, all upstreams together (default 5 s); then SERVFAIL. */
  queryTimeoutMs?: number;
  /** A TCP client idle this long is closed (default 10 s). */
  tcpIdleTimeoutMs?: number;
  /** UDP queries being answered at once; more are dropped (the client retries). TCP: 16 per connection. */
  maxInFlight?: number;
  log?(level: 'debug' | 'warn', message: string): void;
}

export interface DnsCounters {
  queries: number;
  meshAnswers: number;
  forwarded: number;
  failures: number;
  dropped: number;
}

const TCP_PIPELINE = 16;

export class DnsServer {
  readonly counters: DnsCounters = { queries: 0, meshAnswers: 0, forwarded: 0, failures: 0, dropped: 0 };
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly tcpConns = new Set<Socket>();
  private upstreamList: Upstream[] = [];
  private inFlight = 0;
  private boundPort = 0;
  private readonly ttl: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: DnsServerOptions) {
    this.ttl = options.ttlSeconds ?? 30;
    this.timeoutMs = options.queryTimeoutMs ?? 5000;
  }

  get upstreams(): readonly Upstream[] {
    return this.upstreamList;
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<{ host: string; port: number }> {
    if (this.udp) throw new Error('DnsServer already started');
    const host = this.options.host ?? '127.0.0.1';
    const list = this.options.upstreams
      ? this.options.upstreams.map((t) => parseUpstream(t) ?? fail(`DNS upstream ${JSON.stringify(t)} is not ip[:port]`))
      : await readResolvConf(this.options.resolvConf);
    const wanted = this.options.port ?? 15053;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.bind(host, wanted);
        break;
      } catch (err) {
        // Port 0: the TCP port was free but its UDP twin was not; try another pair.
        if (wanted !== 0 || attempt >= 5 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
    // Never forward to ourselves (a resolv.conf pointing at this proxy would loop).
    this.upstreamList = list.filter((u) => !(u.port === this.boundPort && (u.host === host || host === '0.0.0.0' || host === '::')));
    return { host, port: this.boundPort };
  }

  private async bind(host: string, port: number): Promise<void> {
    const tcp = createServer((s) => this.onTcp(s));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => resolve());
    });
    const bound = (tcp.address() as { port: number }).port;
    const udp = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(bound, host, () => resolve());
      });
    } catch (err) {
      tcp.close();
      throw err;
    }
    udp.on('error', (e) => this.options.log?.('warn', `DNS UDP: ${e.message}`));
    tcp.on('error', (e) => this.options.log?.('warn', `DNS TCP: ${e.message}`));
    udp.on('message', (msg, rinfo) => this.onUdp(udp, msg, rinfo));
    this.udp = udp;
    this.tcp = tcp;
    this.boundPort = bound;
  }

  /** Answers one query message; undefined means "send nothing". Never throws. */
  async answer(raw: Uint8Array, client: string, transport: 'udp' | 'tcp'): Promise<Uint8Array | undefined> {
    this.counters.queries++;
    const p = wire.parseQuery(raw);
    if (!p.ok) {
      this.options.log?.('debug', `DNS from ${client}: ${p.reason}`);
      if (p.id === undefined) {
        this.counters.dropped++;
        return undefined;
      }
      return wire.bareErrorResponse(p.id, p.opcode ?? 0, p.opcode ? wire.RCODE_NOTIMP : wire.RCODE_FORMERR);
    }
    const q = p.query;
    if (q.opcode !== 0) return wire.errorResponse(q, wire.RCODE_NOTIMP);
    try {
      if (q.qclass === wire.QCLASS_IN && (q.qtype === wire.QTYPE_A || q.qtype === wire.QTYPE_AAAA) && q.name !== undefined) {
        const hit = await this.options.resolve(q.name, client);
        if (hit) {
          this.counters.meshAnswers++;
          const size = q.qtype === wire.QTYPE_A ? 4 : 16;
          const addrs: Uint8Array[] = [];
          for (const a of hit.addresses) {
            const b = parseIp(a);
            if (b && b.length === size) addrs.push(b);
          }
          const max = transport === 'tcp' ? 65535 : Math.min(Math.max(q.ednsSize ?? 0, wire.CLASSIC_UDP_SIZE), wire.EDNS_UDP_SIZE);
          return wire.answerResponse(q, addrs, this.ttl, max);
        }
      }
      this.counters.forwarded++;
      const answer = await forward(raw, q.id, this.upstreamList, transport, this.timeoutMs);
      if (answer) return answer;
      this.options.log?.('warn', `DNS ${q.name ?? '?'}: no upstream answered within ${this.timeoutMs} ms`);
    } catch (err) {
      this.options.log?.('warn', `DNS ${q.name ?? '?'}: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.counters.failures++;
    return wire.errorResponse(q, wire.RCODE_SERVFAIL);
  }

  /**
   * Answers the queries arriving on a UDP socket bound elsewhere (an in-pod DNS socket), replying from
   * that socket. The caller owns it: closing it stops this, and drain() leaves it alone.
   */
  serveUdp(socket: UdpSocket): void {
    socket.on('message', (msg, rinfo) => this.onUdp(socket, msg, rinfo));
    socket.on('error', (e) => this.options.log?.('warn', `DNS UDP (in-pod): ${e.message}`));
  }

  /** Serves one TCP DNS client accepted elsewhere (an in-pod DNS listener). */
  serveTcp(socket: Socket): void {
    this.onTcp(socket);
  }

  private onUdp(udp: UdpSocket, msg: Buffer, rinfo: RemoteInfo): void {
    if (this.inFlight >= (this.options.maxInFlight ?? 1024)) {
      this.counters.dropped++; // the client retries; better than queueing without bound
      return;
    }
    this.inFlight++;
    void this.answer(msg, plainAddress(rinfo.address), 'udp').then((res) => {
      this.inFlight--;
      if (res) {
        try {
          udp.send(res, rinfo.port, rinfo.address); // throws once the socket is closed (drained, or its pod left)
        } catch {
          // the client retries
        }
      }
    });
  }

  /** RFC 7766 framing: 2-byte length, then the message; several queries may be in flight. */
  private onTcp(socket: Socket): void {
    this.tcpConns.add(socket);
    const client = plainAddress(socket.remoteAddress);
    let buf: Buffer | undefined;
    let pending = 0;
    socket.setTimeout(this.options.tcpIdleTimeoutMs ?? 10_000);
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.tcpConns.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      buf = buf && buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (n === 0) return void socket.destroy();
        if (buf.length < 2 + n) return;
        const msg = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        if (++pending >= TCP_PIPELINE) socket.pause();
        void this.answer(msg, client, 'tcp').then((res) => {
          if (--pending < TCP_PIPELINE && !socket.destroyed) socket.resume();
          if (!res || socket.destroyed || socket.writableEnded) return;
          const len = Buffer.allocUnsafe(2);
          len.writeUInt16BE(res.length);
          socket.write(Buffer.concat([len, res]));
        });
      }
    });
  }

  /** Stops listening; open TCP clients get `graceMs` to collect their answers. */
  async drain(graceMs = 1000): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (!tcp) return;
    const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
    for (const s of this.tcpConns) s.end();
    const timer = setTimeout(() => {
      for (const s of this.tcpConns) s.destroy();
    }, graceMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
  }
}

function fail(message: string): never {
  throw new Error(message);
}
