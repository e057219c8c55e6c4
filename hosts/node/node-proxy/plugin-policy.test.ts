/**
 * l4-policy plugins on the node proxy's inbound path, with a fake plugin set: hand-made
 * InboundTunnels (as handlers.test.ts) to a loopback echo server, a state applied by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { L4Connection, L4PolicyHandle, PluginSet } from '../../../core/plugin/contract.ts';
import type { ConnectionLogRecord } from '../../../core/telemetry/index.ts';
import { TYPE_URL } from '../../../core/xds/index.ts';
import { istio } from '../../../core/xds/pb.ts';
import type { CertificateManager } from '../certs/index.ts';
import type { InboundTunnel } from '../hbone/index.ts';
import type { AccessLogWriter } from '../servers/index.ts';
import { InboundHandler } from './inbound.ts';
import { DEFAULT_PORTS, makeInputs } from './inputs.ts';
import { checkL4Policies, splitHostPort } from './plugin-policy.ts';

const A = 'spiffe://cluster.local/ns/ns/sa/alice';
const B = 'spiffe://cluster.local/ns/ns/sa/bob';

const policy = (name: string, deny: (c: L4Connection) => boolean, workloads: string[] = [], calls: L4Connection[] = []): L4PolicyHandle => ({
  name,
  workloads,
  check: (c) => (calls.push(c), deny(c) ? { tag: 'deny', val: `no ${c.sourcePrincipal}` } : { tag: 'allow' }),
});
const set = (l4: L4PolicyHandle[]): PluginSet => ({ version: 1, httpFilters: [], l4Policies: l4, endpointPicker: undefined, httpFiltersFor: () => [] });
const conn = (p: string): L4Connection => ({ sourcePrincipal: p, destinationPrincipal: 'd', sourceAddress: '10.0.0.1', sourcePort: 1, destinationAddress: '10.0.0.2', destinationPort: 80 });

describe('checkL4Policies', () => {
  it('asks the policies for the workload in order; the first deny wins; others are skipped', () => {
    const calls: L4Connection[] = [];
    const s = set([policy('ns.other', () => true, ['uid-other']), policy('ns.allow', () => false, [], calls), policy('ns.deny-bob', (c) => c.sourcePrincipal === B, ['uid-dst'])]);
    expect(checkL4Policies(s, 'uid-dst', conn(A))).toBeUndefined();
    expect(checkL4Policies(s, 'uid-dst', conn(B))).toEqual({ plugin: 'ns.deny-bob', reason: `no ${B}` });
    expect(checkL4Policies(s, 'uid-x', conn(B))).toBeUndefined();
    expect(calls).toHaveLength(3);
    expect(checkL4Policies(undefined, 'uid-dst', conn(B))).toBeUndefined();
  });

  it('splits ip:port targets', () => {
    expect(splitHostPort('10.0.0.1:8080')).toEqual({ address: '10.0.0.1', port: 8080 });
    expect(splitHostPort('[fd00::1]:80')).toEqual({ address: 'fd00::1', port: 80 });
  });
});

const HBONE = istio.workload.TunnelProtocol.HBONE;
const workload = (uid: string, ip: number[]) => ({
  name: uid,
  bytes: istio.workload.Address.encode({ workload: { uid, name: uid, namespace: 'ns', node: 'n1', serviceAccount: uid, addresses: [new Uint8Array(ip)], tunnelProtocol: HBONE } }).finish(),
});
const openStream = () => new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));
async function until(fn: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await tick();
  }
}

function tunnel(identity: string, authority: string) {
  const stream = openStream();
  const t = {
    peerIdentity: identity,
    authority,
    headers: {},
    remoteAddress: '10.1.0.200',
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

let echo: Server;
let echoPort: number;
const echoed: Socket[] = [];
beforeAll(async () => {
  echo = createServer((s) => {
    echoed.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(() => {
  for (const s of echoed) s.destroy();
  echo.close();
});

describe('InboundHandler with l4-policy plugins', () => {
  it('refuses the CONNECT a plugin denies (403, DENY with the plugin in the access log, counted) and admits the others', async () => {
    const inputs = makeInputs({ control: '', rootCertPem: '', token: '', nodeName: 'n1', listen: '127.0.0.1', trustDomain: 'cluster.local', capture: 'none', ports: DEFAULT_PORTS, drainMs: 0, log: () => {} }, {} as CertificateManager);
    const records: ConnectionLogRecord[] = [];
    inputs.accessLog = { log: (r: ConnectionLogRecord) => void records.push(r) } as unknown as AccessLogWriter;
    inputs.state.store.apply({ typeUrl: TYPE_URL.address, resources: [workload('dst', [127, 0, 0, 1])], removed: [] });
    inputs.state.changed();
    const calls: L4Connection[] = [];
    const denied: string[] = [];
    inputs.plugins = { plugins: () => set([policy('ns.deny-bob', (c) => c.sourcePrincipal === B, [], calls)]), denied: (p) => void denied.push(p) };
    const inbound = new InboundHandler(inputs);

    const tb = tunnel(B, `127.0.0.1:${echoPort}`);
    inbound.onTunnel(tb as unknown as InboundTunnel);
    await until(() => tb.refused !== undefined);
    expect(tb.refused).toMatchObject({ status: 403, message: expect.stringMatching(/ns\.deny-bob/) });
    expect(records[0]).toMatchObject({ response_flags: 'DENY', authz: { decision: 'deny', policy: 'plugin/ns.deny-bob' } });
    expect(denied).toEqual(['ns.deny-bob']);
    expect(calls[0]).toMatchObject({ sourcePrincipal: B, destinationPrincipal: 'spiffe://cluster.local/ns/ns/sa/dst', destinationAddress: '127.0.0.1', destinationPort: echoPort, sourceAddress: '10.1.0.200' });

    const ta = tunnel(A, `127.0.0.1:${echoPort}`);
    inbound.onTunnel(ta as unknown as InboundTunnel);
    await until(() => ta.accepted);
    expect(ta.refused).toBeUndefined();
    ta.stream.destroy();
  });
});
