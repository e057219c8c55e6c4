/**
 * tcpdump on the topology's bridge (the wire between the nodes) and a minimal pcap reader, so an e2e
 * test can prove what crossed: e.g. that mesh traffic between nodes is TLS and never the plaintext.
 * tcpdump writes pcap to stdout (-w -), each packet at once (--immediate-mode -U: otherwise packets
 * wait in a kernel block that SIGINT discards), as root (-Z root: Debian's tcpdump otherwise
 * drops to its own user).
 */
import type { Topology } from './topology.ts';

export interface BridgeCapture {
  /** Stops tcpdump and returns the packets seen. */
  stop(): Promise<TcpPacket[]>;
}

export interface TcpPacket {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
}

/** Starts tcpdump on br0 in the network namespace; resolves once it listens (bounded). */
export async function captureBridge(topo: Topology, filter: string[] = ['tcp'], timeoutMs = 10_000): Promise<BridgeCapture> {
  const child = topo.spawn(topo.net, 'tcpdump', ['-i', topo.net.bridge, '-n', '--immediate-mode', '-U', '-s', '0', '-Z', 'root', '-w', '-', ...filter]);
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => chunks.push(d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.stderr!.on('data', (d) => {
      stderr += d;
      if (/listening on/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('error', (err) => reject(new Error(`cannot run tcpdump (apt-get install -y tcpdump): ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`tcpdump exited (${code}): ${stderr}`)));
  });
  return {
    stop: () =>
      new Promise((resolve) => {
        const done = () => resolve(parsePcap(Buffer.concat(chunks)));
        if (child.stdout!.closed) return done();
        const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('close', () => {
          // 'close', not 'exit': stdout may still hold the last packets when the process has exited
          clearTimeout(kill);
          done();
        });
        setTimeout(() => child.kill('SIGINT'), 100); // let tcpdump drain its ring; on SIGINT it flushes and exits
      }),
  };
}

/** TCP/IPv4 packets with their payloads from a classic pcap (Ethernet link type); others are skipped. */
export function parsePcap(buf: Buffer): TcpPacket[] {
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`unsupported pcap link type ${u32(20)} (want Ethernet)`);
  const out: TcpPacket[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const caplen = u32(off + 8);
    const frame = buf.subarray(off + 16, off + 16 + caplen);
    off += 16 + caplen;
    if (frame.length < 14 + 20 || frame.readUInt16BE(12) !== 0x0800) continue; // IPv4 only
    const ip = frame.subarray(14);
    const ihl = (ip[0]! & 0x0f) * 4;
    if (ip[9] !== 6) continue; // TCP
    const total = Math.min(ip.readUInt16BE(2), ip.length);
    const tcp = ip.subarray(ihl, total);
    if (tcp.length < 20) continue;
    const doff = (tcp[12]! >> 4) * 4;
    out.push({
      src: [...ip.subarray(12, 16)].join('.'),
      dst: [...ip.subarray(16, 20)].join('.'),
      sport: tcp.readUInt16BE(0),
      dport: tcp.readUInt16BE(2),
      payload: Buffer.from(tcp.subarray(doff)),
    });
  }
  return out;
}

/** Whether a payload begins with a TLS record header (content type 20-23, version 3.x). */
export function isTlsRecord(payload: Buffer): boolean {
  return payload.length >= 5 && payload[0]! >= 20 && payload[0]! <= 23 && payload[1] === 3 && payload[2]! <= 4;
}
