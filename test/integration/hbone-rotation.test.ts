/**
 * Certificate rotation under traffic: both ends hold certificates from CertificateManagers that
 * renew about every second (2 s certificates), the server sends GOAWAY to connections made with a
 * rotated certificate, and traffic runs throughout: long streams that span many rotations and a
 * stream of short connections. No connection may fail; new streams carry the new certificates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { CertificateManager, type RotationEvent } from '../../hosts/node/certs/index.ts';
import type { CertificateSigner } from '../../hosts/node/certs/ca-client.ts';
import { HboneClient, type HboneTunnel } from '../../hosts/node/hbone/index.ts';
import { echoBackend, meshPki, roundTrip, startHboneServer, type TestServer } from './hbone-fixtures.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/a/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/b/sa/server';
const pki = meshPki();
const signer: CertificateSigner = { sign: async ({ identity, csrPem, validitySeconds }) => pki.ca.sign(csrPem, { identity, validitySeconds }) };
const opts = { signer, rootPems: pki.rootPem, validitySeconds: 2, renewal: { at: 0.5, jitter: 0 } };
const clientCerts = new CertificateManager(opts);
const serverCerts = new CertificateManager(opts);
let srv: TestServer;
let echo: Awaited<ReturnType<typeof echoBackend>>;
let client: HboneClient;

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber.toUpperCase();
const serverSerial = (t: HboneTunnel): string => ((t.stream.session!.socket as unknown as TLSSocket).getPeerCertificate().serialNumber ?? '').toUpperCase();
const open = (): Promise<HboneTunnel> => client.connect({ sourceIdentity: CLIENT_ID, destination: { ip: '127.0.0.1', port: srv.port }, expectedIdentities: [SERVER_ID], authority: `127.0.0.1:${echo.port}` });

beforeAll(async () => {
  echo = await echoBackend();
  await serverCerts.get(SERVER_ID);
  srv = await startHboneServer({ certificate: () => serverCerts.current(SERVER_ID) });
  serverCerts.on('rotated', (e: RotationEvent) => e.previous && srv.server.retire(e.previous));
  client = new HboneClient({ certificates: clientCerts });
});

afterAll(async () => {
  client.close(true);
  clientCerts.close();
  serverCerts.close();
  await srv.close();
  echo.server.close();
});

describe('certificate rotation under traffic', () => {
  it('rotates both ends while streams run, with no failed connection', async () => {
    const rotations = { client: 0, server: 0 };
    clientCerts.on('rotated', () => rotations.client++);
    serverCerts.on('rotated', () => rotations.server++);
    const failures: string[] = [];
    const clientSerialsAtServer = new Set<string>();
    const serverSerialsAtClient = new Set<string>();
    const until = Date.now() + 4500;

    // long streams: opened before the first rotation, written to every 50 ms across all of them
    const long = Array.from({ length: 4 }, async (_, i) => {
      const t = await open();
      const sent: Buffer[] = [];
      const received: Buffer[] = [];
      t.stream.on('data', (d: Buffer) => received.push(d));
      const ended = new Promise((r) => t.stream.once('end', r));
      while (Date.now() < until) {
        const b = Buffer.alloc(4096, i + sent.length);
        sent.push(b);
        t.stream.write(b);
        await new Promise((r) => setTimeout(r, 50));
      }
      t.stream.end();
      await ended;
      if (!Buffer.concat(received).equals(Buffer.concat(sent))) failures.push(`long stream ${i} lost bytes`);
    });

    // short connections, 6 at a time, each a fresh stream
    const short = Array.from({ length: 6 }, async () => {
      let n = 0;
      while (Date.now() < until) {
        try {
          const t = await open();
          serverSerialsAtClient.add(serverSerial(t));
          const body = Buffer.alloc(16_384, n++ % 251);
          const got = await roundTrip(t.stream, body);
          if (!got.equals(body)) failures.push('short stream: wrong bytes');
          clientSerialsAtServer.add(serialOf(srv.tunnels.at(-1)!.peerChain[0]!));
        } catch (err) {
          failures.push(String(err));
        }
      }
    });
    await Promise.all([...long, ...short]);

    expect(failures).toEqual([]);
    expect(rotations.client).toBeGreaterThanOrEqual(3);
    expect(rotations.server).toBeGreaterThanOrEqual(3);
    expect(clientSerialsAtServer.size).toBeGreaterThanOrEqual(2);
    expect(serverSerialsAtClient.size).toBeGreaterThanOrEqual(2);

    // a new stream after a rotation of both ends carries both new certificates
    const [c, s] = await Promise.all([clientCerts.renew(CLIENT_ID), serverCerts.renew(SERVER_ID)]);
    const t = await open();
    await roundTrip(t.stream, 'after');
    expect(serverSerial(t)).toBe(s.serial);
    expect(serialOf(srv.tunnels.at(-1)!.peerChain[0]!)).toBe(c.serial);
  }, 20_000);
});
