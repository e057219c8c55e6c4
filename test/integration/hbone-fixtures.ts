/**
 * Fixtures for the HBONE integration tests: an in-process mesh CA (Weft's own, hosts/node/ca),
 * workload certificates from it, a static certificate source, an HBONE server whose tunnels dial
 * the authority and splice (what the node proxy's inbound does, minus policy), and an echo backend.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { caFromPems, makeRootCa, type CertificateAuthority } from '../../hosts/node/ca/index.ts';
import { createKeyAndCsr } from '../../hosts/node/ca/csr.ts';
import { buildWorkloadCertificate, type WorkloadCertificate } from '../../hosts/node/certs/index.ts';
import { splicePair } from '../../hosts/node/servers/splice.ts';
import { HboneServer, type InboundTunnel, type RefusalEvent, type ServerCertificate } from '../../hosts/node/hbone/index.ts';

const DAY = 86_400_000;

export interface Pki {
  ca: CertificateAuthority;
  rootPem: string;
  /** `trustRoots`: the roots the holder trusts (default this CA's): a holder from another mesh that trusts ours. */
  issue(identity: string, o?: { validitySeconds?: number; now?: number; trustDomains?: string[]; trustRoots?: string[] }): WorkloadCertificate;
}

/** A root made two days ago, so certificates can be issued in the past (expired ones). */
export function meshPki(org = 'cluster.local'): Pki {
  const now = Date.now() - 2 * DAY;
  const root = makeRootCa({ org, now });
  const ca = caFromPems({ caCertPem: root.certPem, caKeyPem: root.keyPem, rootCertPem: root.certPem, source: `test ${org}` });
  return {
    ca,
    rootPem: root.certPem,
    issue(identity, o = {}) {
      const { keyPem, csrPem } = createKeyAndCsr(identity);
      const td = new URL(identity).host;
      const chain = ca.sign(csrPem, { identity, validitySeconds: o.validitySeconds ?? 3600, trustDomains: o.trustDomains ?? [td], ...(o.now ? { now: o.now } : {}) });
      return buildWorkloadCertificate({ identity, keyPem, chainPems: chain, rootPems: o.trustRoots ?? [root.certPem] });
    },
  };
}

/** A fixed identity -> certificate table: a ClientCertificates for HboneClient. */
export class StaticCerts {
  readonly map = new Map<string, WorkloadCertificate>();
  set(c: WorkloadCertificate): this {
    this.map.set(c.identity, c);
    return this;
  }
  current(identity: string): WorkloadCertificate | undefined {
    return this.map.get(identity);
  }
  async get(identity: string): Promise<WorkloadCertificate> {
    const c = this.map.get(identity);
    if (!c) throw new Error(`no certificate for ${identity}`);
    return c;
  }
}

export async function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((r) => server.listen(0, host, r));
  return (server.address() as AddressInfo).port;
}

/** Echoes bytes back, honouring half-close. */
export async function echoBackend(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  return { server, port: await listen(server), sockets };
}

/** Dials the tunnel's authority, answers 200 once connected (503 otherwise) and splices. */
export function dialAndSplice(t: InboundTunnel): void {
  if (t.target.kind !== 'ip') return t.refuse(400, 'host names are not served here');
  const up = connect({ host: t.target.ip, port: t.target.port, allowHalfOpen: true, noDelay: true });
  up.once('error', (err) => t.refuse(503, `upstream ${t.authority}: ${err.message}`));
  up.once('connect', () => {
    up.removeAllListeners('error');
    void splicePair(t.accept(), up);
  });
}

export interface TestServer {
  server: HboneServer;
  port: number;
  refusals: RefusalEvent[];
  tunnels: InboundTunnel[];
  close(): Promise<void>;
}

export async function startHboneServer(o: { certificate: () => ServerCertificate | undefined; trustDomains?: string[]; onTunnel?: (t: InboundTunnel) => void; host?: string }): Promise<TestServer> {
  const refusals: RefusalEvent[] = [];
  const tunnels: InboundTunnel[] = [];
  const server = new HboneServer({
    certificate: o.certificate,
    trustDomains: o.trustDomains ?? ['cluster.local'],
    onTunnel: (t) => {
      tunnels.push(t);
      (o.onTunnel ?? dialAndSplice)(t);
    },
    handshakeTimeoutMs: 3000,
  });
  server.on('refused', (e: RefusalEvent) => refusals.push(e));
  const addr = await server.listen(0, o.host ?? '127.0.0.1');
  return { server, port: addr.port, refusals, tunnels, close: () => server.close(500) };
}

/** Writes `data`, half-closes, and collects everything read until the end. */
export function roundTrip(stream: NodeJS.ReadWriteStream, data: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    stream.end(data);
  });
}
