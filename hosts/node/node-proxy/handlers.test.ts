/**
 * The node proxy's handlers with real loopback sockets but no HBONE or control plane: a fake
 * HboneClient for outbound, hand-made InboundTunnels for inbound, a state applied by hand.
 * Covers what only the integration tests reached before: the balancer told of every connection
 * opened and closed, the inbound source address from `forwarded`, and a policy change closing
 * the live connections it now denies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { LeastConnectionsBalancer } from '../../../core/lb/index.ts';
import type { ConnectionLogRecord } from '../../../core/telemetry/index.ts';
import { TYPE_URL } from '../../../core/xds/index.ts';
import { istio } from '../../../core/xds/pb.ts';
import type { CertificateManager } from '../certs/index.ts';
import type { HboneClient, InboundTunnel } from '../hbone/index.ts';
import type { AccessLogWriter, Tunnel } from '../servers/index.ts';
import { InboundHandler } from './inbound.ts';
import { DEFAULT_PORTS, makeInputs } from './inputs.ts';
import type { NodeProxyInputs } from './inputs.ts';
import { OutboundHandler } from './outbound.ts';
import { PolicyEnforcer } from './policy-enforcer.ts';

const HBONE = istio.workload.TunnelProtocol.HBONE;
const A = 'spiffe://cluster.local/ns/ns/sa/alice';
const B = 'spiffe://cluster.local/ns/ns/sa/bob';

const workload = (uid: string, ip: number[], over: istio.workload.Workload.$Properties = {}) => ({
  name: uid,
  bytes: istio.workload.Address.encode({ workload: { uid, name: uid, namespace: 'ns', node: 'n1', serviceAccount: uid, addresses: [new Uint8Array(ip)], tunnelProtocol: HBONE, ...over } }).finish(),
});
const echoSvc = (port: number) => ({ 'ns/echo.ns': { ports: [{ servicePort: 80, targetPort: port }] } });
const service = {
  name: 'ns/echo.ns',
  bytes: istio.workload.Address.encode({ service: { name: 'echo', namespace: 'ns', hostname: 'echo.ns', addresses: [{ network: '', address: new Uint8Array([10, 96, 5, 5]) }], ports: [{ servicePort: 80, targetPort: 8080 }] } }).finish(),
};
const policy = (name: string, action: istio.security.Action, match: istio.security.Match.$Properties) => ({
  name: `ns/${name}`,
  bytes: istio.security.Authorization.encode({ name, namespace: 'ns', scope: istio.security.Scope.NAMESPACE, action, rules: [{ clauses: [{ matches: [match] }] }] }).finish(),
});
const cidr = (ip: number[], length: number) => ({ address: new Uint8Array(ip), length });

interface Harness {
  inputs: NodeProxyInputs;
  records: ConnectionLogRecord[];
  apply(resources: { name: string; bytes: Uint8Array }[], typeUrl?: string, removed?: string[]): void;
}

function harness(loadBalancing = 'least-connections'): Harness {
  const inputs = makeInputs(
    { control: '', rootCertPem: '', token: '', nodeName: 'n1', listen: '127.0.0.1', trustDomain: 'cluster.local', capture: 'none', ports: DEFAULT_PORTS, drainMs: 0, loadBalancing, log: () => {} },
    {} as CertificateManager,
  );
  const records: ConnectionLogRecord[] = [];
  inputs.accessLog = { log: (r: ConnectionLogRecord) => void records.push(r) } as unknown as AccessLogWriter;
  return {
    inputs,
    records,
    apply(resources, typeUrl = TYPE_URL.address, removed = []) {
      const { errors } = inputs.state.store.apply({ typeUrl, resources, removed });
      if (errors.length) throw new Error(JSON.stringify(errors));
      inputs.state.changed();
    },
  };
}

/** A stream that swallows writes and never ends on its own: a tunnel that stays open. */
const openStream = () => new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });

function fakeHbone() {
  const calls: { authority: string; stream: Duplex }[] = [];
  const client = {
    async connect(c: { authority: string }) {
      const stream = openStream();
      calls.push({ authority: c.authority, stream });
      return { stream };
    },
  } as unknown as HboneClient;
  return { client, calls };
}

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));
async function until(fn: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await tick(10);
  }
}

/** A loopback server, and a connected pair (client socket, server-side socket). */
let server: Server;
let port: number;
const accepted: Socket[] = [];
let echo: Server;
let echoPort: number;
const echoed: Socket[] = [];

beforeAll(async () => {
  server = createServer((s) => void accepted.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  echo = createServer((s) => {
    echoed.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(() => {
  for (const s of [...accepted, ...echoed]) s.destroy();
  server.close();
  echo.close();
});

async function pair(): Promise<{ client: Socket; serverSide: Socket }> {
  const n = accepted.length;
  const client = connect({ host: '127.0.0.1', port });
  client.on('error', () => {});
  await new Promise((r) => client.once('connect', r));
  await until(() => accepted.length > n);
  return { client, serverSide: accepted[accepted.length - 1]! };
}

describe('OutboundHandler tells the balancer of every connection opened and closed', () => {
  const mesh = (h: Harness) =>
    h.apply([workload('src', [10, 1, 0, 1]), workload('e1', [10, 1, 0, 11], { services: echoSvc(8080) }), workload('e2', [10, 1, 0, 12], { services: echoSvc(8080) }), service]);

  it('least connections: held connections to e1 (addressed directly) send new service connections to e2; counts go back to zero', async () => {
    const h = harness();
    mesh(h);
    const hbone = fakeHbone();
    const out = new OutboundHandler(h.inputs, hbone.client);
    const lb = h.inputs.balancer as LeastConnectionsBalancer;
    const req = (host: string, p: number) => ({ host, port: p, isName: false, sourceAddress: '10.1.0.1', sourcePort: 5000, protocol: 'socks5' as const, signal: new AbortController().signal });
    const tunnels: Tunnel[] = [];
    for (let i = 0; i < 3; i++) tunnels.push((await out.onConnect(req('10.1.0.11', 8080))) as Tunnel);
    expect(lb.active('e1')).toBe(3);
    for (let i = 0; i < 3; i++) tunnels.push((await out.onConnect(req('10.96.5.5', 80))) as Tunnel);
    expect(hbone.calls.slice(3).map((c) => c.authority)).toEqual(['10.1.0.12:8080', '10.1.0.12:8080', '10.1.0.12:8080']);
    expect([lb.active('e1'), lb.active('e2')]).toEqual([3, 3]);
    // closes: two through the entry's close hook after the splice, the rest by the stream closing alone
    for (const t of tunnels) t.stream.destroy();
    tunnels[0]!.onClose?.({ received: 0, sent: 0 });
    tunnels[3]!.onClose?.({ received: 0, sent: 0 });
    await until(() => lb.active('e1') === 0 && lb.active('e2') === 0);
  });

  it('counts a captured connection until its splice ends', async () => {
    const h = harness();
    mesh(h);
    const hbone = fakeHbone();
    const out = new OutboundHandler(h.inputs, hbone.client);
    const lb = h.inputs.balancer as LeastConnectionsBalancer;
    const { client, serverSide } = await pair();
    const done = out.handleCaptured(serverSide, '10.1.0.1', '10.96.5.5:80');
    await done;
    const key = hbone.calls[0]!.authority === '10.1.0.11:8080' ? 'e1' : 'e2';
    expect(lb.active(key)).toBe(1);
    client.resetAndDestroy();
    await until(() => lb.active(key) === 0);
    await until(() => h.records.length === 1);
    expect(h.records[0]).toMatchObject({ direction: 'outbound' });
  });

  it('a refused plan counts nothing', async () => {
    const h = harness();
    mesh(h);
    const out = new OutboundHandler(h.inputs, fakeHbone().client);
    const r = await out.onConnect({ host: '10.96.5.5', port: 22, isName: false, sourceAddress: '10.1.0.1', sourcePort: 1, protocol: 'socks5', signal: new AbortController().signal });
    expect(r).toMatchObject({ refuse: 'unreachable' });
    expect((h.inputs.balancer as LeastConnectionsBalancer).active('e1') + (h.inputs.balancer as LeastConnectionsBalancer).active('e2')).toBe(0);
  });

  it('--load-balancing round-robin (the default) alternates whatever is open', async () => {
    const h = harness('round-robin');
    mesh(h);
    const hbone = fakeHbone();
    const out = new OutboundHandler(h.inputs, hbone.client);
    for (let i = 0; i < 4; i++) await out.onConnect({ host: '10.96.5.5', port: 80, isName: false, sourceAddress: '10.1.0.1', sourcePort: 1, protocol: 'socks5', signal: new AbortController().signal });
    expect(hbone.calls.map((c) => c.authority)).toEqual(['10.1.0.11:8080', '10.1.0.12:8080', '10.1.0.11:8080', '10.1.0.12:8080']);
    expect(() => harness('no-such-balancer')).toThrow(/no balancer type no-such-balancer; known: round-robin, least-connections/);
  });
});

/** An InboundTunnel as the HBONE server hands it over, with the peer node proxy at `peer`. */
function tunnel(o: { identity: string; authority: string; forwarded?: string; peer?: string }) {
  const stream = openStream();
  const t = {
    peerIdentity: o.identity,
    authority: o.authority,
    headers: o.forwarded === undefined ? {} : { forwarded: o.forwarded },
    remoteAddress: o.peer ?? '10.1.0.200',
    remotePort: 40000,
    forwarded: {},
    baggage: {},
    refused: undefined as { status: number; message: string } | undefined,
    accepted: false,
    stream,
    accept() {
      t.accepted = true;
      return stream;
    },
    refuse(status: number, message: string) {
      t.refused = { status, message };
    },
  };
  return t;
}
const asTunnel = (t: ReturnType<typeof tunnel>) => t as unknown as InboundTunnel;

describe('InboundHandler: the client in forwarded is the source for policy and telemetry', () => {
  const setup = () => {
    const h = harness();
    h.apply([workload('dst', [127, 0, 0, 1])]);
    h.apply([policy('deny-net', istio.security.Action.DENY, { sourceIps: [cidr([192, 0, 2, 0], 24)] })], TYPE_URL.authorization);
    return { h, inbound: new InboundHandler(h.inputs) };
  };

  it('denies by the forwarded client address (401, DENY logged with that address)', async () => {
    const { h, inbound } = setup();
    const t = tunnel({ identity: A, authority: `127.0.0.1:${echoPort}`, forwarded: 'for="192.0.2.7:5555";host=echo.ns' });
    inbound.onTunnel(asTunnel(t));
    await until(() => t.refused !== undefined);
    expect(t.refused).toMatchObject({ status: 401, message: expect.stringMatching(/deny-net.*from 192\.0\.2\.7/) });
    expect(h.records[0]).toMatchObject({ src: { addr: '192.0.2.7:5555' }, response_flags: 'DENY', authz: { decision: 'deny', policy: 'ns/deny-net' } });
  });

  it('admits a client outside the block though the peer node proxy is inside it', async () => {
    const { h, inbound } = setup();
    const t = tunnel({ identity: A, authority: `127.0.0.1:${echoPort}`, forwarded: 'for="10.1.0.1:5555"', peer: '192.0.2.1' });
    inbound.onTunnel(asTunnel(t));
    await until(() => t.accepted);
    t.stream.destroy();
    await until(() => h.records.length === 1);
    expect(h.records[0]).toMatchObject({ src: { addr: '10.1.0.1:5555' } });
  });

  it.each([
    ['no forwarded header', undefined],
    ['a malformed forwarded header', 'for=garbage'],
  ])('falls back to the peer address with %s', async (_n, forwarded) => {
    const { h, inbound } = setup();
    const t = tunnel({ identity: A, authority: `127.0.0.1:${echoPort}`, ...(forwarded ? { forwarded } : {}), peer: '::ffff:192.0.2.1' });
    inbound.onTunnel(asTunnel(t));
    await until(() => t.refused !== undefined);
    expect(t.refused?.status).toBe(401);
    expect(h.records[0]).toMatchObject({ src: { addr: '192.0.2.1:40000' }, response_flags: 'DENY' });
  });

  it('answers 400 (NR) for a workload that is not on this node', async () => {
    const { h, inbound } = setup();
    const t = tunnel({ identity: A, authority: '10.9.9.9:80' });
    inbound.onTunnel(asTunnel(t));
    await until(() => t.refused !== undefined);
    expect(t.refused?.status).toBe(400);
    expect(h.records[0]).toMatchObject({ response_flags: 'NR' });
  });
});

describe('PolicyEnforcer: a policy change closes the live connections it now denies', () => {
  const closed = (s: Duplex) => s.destroyed;

  it('resets the HBONE stream of the principal a new DENY names, keeps the other, logs and counts it', async () => {
    const h = harness();
    h.apply([workload('dst', [127, 0, 0, 1]), workload('other', [10, 1, 0, 9])]);
    const enforcer = new PolicyEnforcer(h.inputs);
    const inbound = new InboundHandler(h.inputs);
    const ta = tunnel({ identity: A, authority: `127.0.0.1:${echoPort}`, forwarded: 'for="10.1.0.1:1"' });
    const tb = tunnel({ identity: B, authority: `127.0.0.1:${echoPort}`, forwarded: 'for="10.1.0.2:2"' });
    inbound.onTunnel(asTunnel(ta));
    inbound.onTunnel(asTunnel(tb));
    await until(() => ta.accepted && tb.accepted);
    expect(h.inputs.tracker.inbound.get('dst')?.size).toBe(2);
    // a policy for another workload: nothing is re-evaluated or closed
    h.apply([policy('deny-other', istio.security.Action.DENY, { principals: [{ exact: 'cluster.local/ns/ns/sa/alice' }], destinationIps: [cidr([10, 1, 0, 9], 32)] })], TYPE_URL.authorization);
    await tick();
    expect([closed(ta.stream), closed(tb.stream), enforcer.closed]).toEqual([false, false, 0]);
    h.apply([policy('deny-alice', istio.security.Action.DENY, { principals: [{ exact: 'cluster.local/ns/ns/sa/alice' }] })], TYPE_URL.authorization);
    expect(enforcer.closed).toBe(1);
    await until(() => h.records.length === 1);
    expect(closed(ta.stream)).toBe(true);
    expect(closed(tb.stream)).toBe(false);
    expect(h.records[0]).toMatchObject({ src: { addr: '10.1.0.1:1', identity: A }, response_flags: 'DENY', error: expect.stringMatching(/closed by a policy change: denied by DENY policy ns\/deny-alice/) });
    expect(h.inputs.metrics.render()).toMatch(/istio_tcp_connections_closed_total\{[^}]*response_flags="DENY"[^}]*\} 1/);
    expect(h.inputs.tracker.inbound.get('dst')?.size).toBe(1);
    tb.stream.destroy();
    await until(() => h.inputs.tracker.inbound.size === 0);
    enforcer.close();
  });

  it('resets a plaintext (15006) connection a new policy denies, with the source it was admitted with', async () => {
    const h = harness();
    h.apply([workload('dst', [127, 0, 0, 1])]);
    const enforcer = new PolicyEnforcer(h.inputs);
    const inbound = new InboundHandler(h.inputs);
    const { client, serverSide } = await pair();
    await inbound.handlePlaintext(serverSide, `127.0.0.1:${echoPort}`);
    // the connection works
    const got = new Promise<string>((r) => client.once('data', (d) => r(String(d))));
    client.write('ping');
    expect(await got).toBe('ping');
    const gone = new Promise<Error | undefined>((r) => {
      client.once('error', (e) => r(e));
      client.once('close', () => r(undefined));
    });
    // STRICT mTLS as istiod sends it: DENY whoever has no principal
    h.apply([policy('istio_converted_static_strict', istio.security.Action.DENY, { notPrincipals: [{ presence: {} }] })], TYPE_URL.authorization);
    expect(enforcer.closed).toBe(1);
    expect(((await gone) as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNRESET');
    await until(() => h.records.length === 1);
    expect(h.records[0]).toMatchObject({ response_flags: 'DENY', error: expect.stringMatching(/PeerAuthentication requires mTLS/) });
    enforcer.close();
  });
});
