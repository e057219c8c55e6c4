/**
 * The Weft side of the L4 bench, run as child processes of the bench (two node proxies, one hop
 * each): `weft-out` accepts plain TCP and tunnels each connection as one HBONE stream (pooled
 * mTLS HTTP/2 connection) to `weft-in`, which terminates HBONE and dials the backend. Same code
 * paths as the node proxy: HboneClient, HboneServer, splice.
 */
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { buildWorkloadCertificate } from '../../../hosts/node/certs/index.ts';
import { HboneClient, HboneServer, hboneHeaders, type InboundTunnel } from '../../../hosts/node/hbone/index.ts';
import { splicePair } from '../../../hosts/node/servers/splice.ts';
import { CLIENT_ID, SERVER_ID } from './pki.ts';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) throw new Error(`--${name} is required`);
  return process.argv[i + 1]!;
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

export async function runWeftRole(role: string): Promise<void> {
  const root = readFileSync(arg('root'), 'utf8');
  const identity = role === 'weft-out' ? CLIENT_ID : SERVER_ID;
  const cert = buildWorkloadCertificate({ identity, keyPem: readFileSync(arg('key'), 'utf8'), chainPems: [readFileSync(arg('chain'), 'utf8')], rootPems: [root] });
  const listen = hostPort(arg('listen'));
  const target = hostPort(arg('target'));
  if (role === 'weft-in') {
    const server = new HboneServer({
      certificate: () => cert,
      trustDomains: ['cluster.local'],
      onTunnel: (t: InboundTunnel) => {
        const up = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
        up.once('error', (err) => t.refuse(503, err.message));
        up.once('connect', () => {
          up.removeAllListeners('error');
          void splicePair(up, t.accept());
        });
      },
    });
    await server.listen(listen.port, listen.host);
  } else {
    const client = new HboneClient({ certificates: { get: async () => cert, current: () => cert } });
    const authority = arg('authority');
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
      sock.on('error', () => {});
      client
        .connect({
          sourceIdentity: CLIENT_ID,
          destination: { ip: target.host, port: target.port },
          expectedIdentities: [SERVER_ID],
          authority,
          headers: hboneHeaders({ source: { ip: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 }, serviceHost: 'nginx.bench.svc.cluster.local' }),
        })
        .then(
          (t) => void splicePair(sock, t.stream),
          (err: Error) => {
            process.stderr.write(`weft-out: ${err.message}\n`);
            sock.resetAndDestroy();
          },
        );
    });
    await new Promise<void>((r) => server.listen(listen.port, listen.host, r));
  }
  // exit (not die) on signals, so `node --cpu-prof` writes its profile
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(0));
  process.stdout.write('ready\n');
}
