/**
 * The delta client over TLS as a node proxy uses 15012: the server's chain verified against a root
 * and its SPIFFE id (not the address), and the join token sent as `authorization: Bearer`.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../core/xds/index.ts';
import { AdsServer, DeltaXdsClient } from '../../hosts/node/xds/index.ts';
import { buildSnapshot } from '../support/mesh-fixture.ts';
import { WEFT_VERSION } from '../../hosts/node/version.ts';

const CONTROL_ID = 'spiffe://cluster.local/ns/weft-system/sa/weft-control';

function makeCerts(dir: string): { root: Buffer; cert: Buffer; key: Buffer } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/O=weft-test/CN=root', '-days', '1');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/O=weft-test');
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=URI:${CONTROL_ID}\n`);
  ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '1', '-extfile', 'ext.cnf');
  return { root: readFileSync(join(dir, 'ca.pem')), cert: readFileSync(join(dir, 'srv.pem')), key: readFileSync(join(dir, 'srv.key')) };
}

describe('DeltaXdsClient over TLS with a token', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-xds-tls-'));
  const seenTokens: string[] = [];
  const ads = new AdsServer({
    debounceMs: 0,
    authenticate: (call) => {
      const auth = String(call.metadata.get('authorization')[0] ?? '');
      seenTokens.push(auth);
      return auth === 'Bearer join-token' ? { kind: 'node', name: 'node-a' } : new Error('bad token');
    },
  });
  const server = new grpc.Server();
  let address = '';
  let root: Buffer;

  beforeAll(async () => {
    const certs = makeCerts(dir);
    root = certs.root;
    ads.addTo(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ cert_chain: certs.cert, private_key: certs.key }]), (e, p) => (e ? reject(e) : resolve(p))),
    );
    address = `127.0.0.1:${port}`;
    ads.update(buildSnapshot(1, [{ name: 'a', ports: [{ port: 80 }], backends: [{ name: 'a-1', ip: '10.0.0.1' }] }]));
    ads.flush();
  });
  afterAll(() => {
    ads.close();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the server by its SPIFFE id and authenticates with the token', async () => {
    const client = new DeltaXdsClient({
      address,
      tls: { rootCert: root, serverIdentity: CONTROL_ID },
      token: 'join-token',
      node: { id: 'node-a' },
      subscriptions: [{ typeUrl: TYPE_URL.address }],
    });
    try {
      client.start();
      await once(client, 'ack');
      expect(client.resources(TYPE_URL.address).size).toBe(2);
      expect(seenTokens.at(-1)).toBe('Bearer join-token');
      expect(ads.syncz()[0]).toMatchObject({ caller: { kind: 'node', name: 'node-a' }, node: { id: 'node-a', userAgent: `weft/${WEFT_VERSION}` } });
    } finally {
      client.close();
    }
  });

  it('refuses a server that does not carry the expected identity', async () => {
    const client = new DeltaXdsClient({
      address,
      tls: { rootCert: root, serverIdentity: 'spiffe://cluster.local/ns/evil/sa/impostor' },
      token: 'join-token',
      node: { id: 'node-b' },
      subscriptions: [{ typeUrl: TYPE_URL.address }],
      backoff: { initialMs: 1000 },
    });
    try {
      client.start();
      const [err] = (await once(client, 'disconnected')) as [Error];
      expect(err.message).toMatch(/UNAVAILABLE/);
      expect(client.connected).toBe(false);
    } finally {
      client.close();
    }
  });
});
