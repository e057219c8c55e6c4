/**
 * HTTP/2 PING keepalive on pooled HBONE client connections: a live peer answers the PINGs and the
 * connection stays pooled; a peer that goes silent without closing (the path blackholed: a node
 * gone, a NAT that forgot the flow) is found dead within interval + timeout, its connection is
 * destroyed with its streams, and the next connect dials a new one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { HboneClient, type HboneTunnel } from '../../hosts/node/hbone/index.ts';
import { StaticCerts, echoBackend, listen, meshPki, roundTrip, startHboneServer, type TestServer } from './hbone-fixtures.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/a/sa/client';
const SERVER_ID = 'spiffe://cluster.local/ns/b/sa/server';
const pki = meshPki();
const certs = new StaticCerts().set(pki.issue(CLIENT_ID));
const serverCert = pki.issue(SERVER_ID);

/** A TCP relay in front of the HBONE server that can stop forwarding in both directions without closing. */
interface Relay {
  port: number;
  blackhole: boolean;
  server: Server;
}

async function relayTo(port: number): Promise<Relay> {
  const relay: Relay = { port: 0, blackhole: false, server: undefined as unknown as Server };
  relay.server = createServer((down: Socket) => {
    const up = connect({ host: '127.0.0.1', port });
    for (const [from, to] of [[down, up], [up, down]] as const) {
      from.on('data', (d: Buffer) => void (relay.blackhole || to.write(d)));
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  relay.port = await listen(relay.server);
  return relay;
}

let srv: TestServer;
let echo: Awaited<ReturnType<typeof echoBackend>>;

const open = (c: HboneClient, port: number): Promise<HboneTunnel> =>
  c.connect({ sourceIdentity: CLIENT_ID, destination: { ip: '127.0.0.1', port }, expectedIdentities: [SERVER_ID], authority: `127.0.0.1:${echo.port}` });

beforeAll(async () => {
  echo = await echoBackend();
  srv = await startHboneServer({ certificate: () => serverCert });
});

afterAll(async () => {
  await srv.close();
  echo.server.close();
});

describe('HBONE keepalive (HTTP/2 PING)', () => {
  it('keeps a connection to a live peer pooled while its PINGs are answered', async () => {
    const c = new HboneClient({ certificates: certs, trustDomains: ['cluster.local'], keepalive: { intervalMs: 50, timeoutMs: 200 } });
    try {
      const t = await open(c, srv.port);
      expect((await roundTrip(t.stream, 'before')).toString()).toBe('before');
      await new Promise((r) => setTimeout(r, 400));
      const [s] = c.stats();
      expect(s?.pings).toBeGreaterThanOrEqual(3);
      const again = await open(c, srv.port);
      expect(again.reused).toBe(true);
      expect((await roundTrip(again.stream, 'after')).toString()).toBe('after');
      expect(c.dials).toBe(1);
    } finally {
      c.close(true);
    }
  });

  it('closes a connection whose peer stops answering, resets its streams, and dials anew', async () => {
    const relay = await relayTo(srv.port);
    const c = new HboneClient({ certificates: certs, trustDomains: ['cluster.local'], keepalive: { intervalMs: 100, timeoutMs: 200 } });
    try {
      const t = await open(c, relay.port);
      t.stream.on('error', () => {});
      t.stream.write('hello');
      await new Promise((r) => t.stream.once('data', r));
      const closed = new Promise<number>((r) => t.stream.once('close', () => r(Date.now())));
      relay.blackhole = true;
      const from = Date.now();
      const at = await closed;
      expect(at - from).toBeLessThan(1500); // interval + timeout, with room for a busy machine
      expect(t.stream.destroyed).toBe(true);
      expect(c.stats()).toHaveLength(0);
      relay.blackhole = false;
      const fresh = await open(c, relay.port);
      expect(fresh.reused).toBe(false);
      expect(c.dials).toBe(2);
      expect((await roundTrip(fresh.stream, 'back')).toString()).toBe('back');
    } finally {
      c.close(true);
      relay.server.close();
    }
  });

  it('can be turned off', async () => {
    const c = new HboneClient({ certificates: certs, trustDomains: ['cluster.local'], keepalive: false });
    try {
      const t = await open(c, srv.port);
      await roundTrip(t.stream, 'x');
      await new Promise((r) => setTimeout(r, 150));
      expect(c.stats()[0]?.pings ?? 0).toBe(0);
    } finally {
      c.close(true);
    }
  });
});
