/**
 * Acceptance (issue 2, xDS server): an unmodified @grpc/grpc-js-xds client, bootstrapped at Weft's
 * ADS server, calls xds:///<service>.<ns>.svc.cluster.local:<port>, reaches the service's endpoints,
 * and follows a change of endpoints without restarting.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../core/xds/index.ts';
import { ControlMetrics } from '../../hosts/node/control/metrics.ts';
import { AdsServer } from '../../hosts/node/xds/index.ts';
import { buildSnapshot } from '../support/mesh-fixture.ts';
import { eventually } from '../support/xds-streams.ts';
import type { BackendSpec } from '../support/mesh-fixture.ts';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const HOST = 'echo.default.svc.cluster.local';
const PORT = 7070;

type CallResult = { backend?: string; error?: string };

async function startBackend(name: string): Promise<{ server: grpc.Server; port: number }> {
  const def = protoLoader.loadSync(`${fixtures}echo.proto`, { keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { weft: { test: { Echo: grpc.ServiceClientConstructor } } };
  const server = new grpc.Server();
  server.addService(pkg.weft.test.Echo.service, {
    Say: (call: grpc.ServerUnaryCall<{ message: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { message: call.request.message, backend: name }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

describe('grpc-js-xds client against the Weft ADS server', () => {
  const metrics = new ControlMetrics();
  const ads = new AdsServer({ metrics, debounceMs: 10 });
  const xdsServer = new grpc.Server();
  let a: { server: grpc.Server; port: number };
  let b: { server: grpc.Server; port: number };
  let child: ChildProcess;
  let seq = 0;

  const snapshot = (version: number, backends: BackendSpec[]) =>
    buildSnapshot(version, [{ name: 'echo', vip: '10.96.0.7', ports: [{ port: PORT, name: 'grpc' }], backends }]);
  const backendA = (): BackendSpec => ({ name: 'echo-a', ip: '127.0.0.1', ports: { [PORT]: a.port } });
  const backendB = (): BackendSpec => ({ name: 'echo-b', ip: '127.0.0.1', ports: { [PORT]: b.port } });

  const calls = async (n: number): Promise<CallResult[]> => {
    const id = ++seq;
    child.send({ id, n });
    for (;;) {
      const [msg] = (await once(child, 'message')) as [{ id?: number; results?: CallResult[] }];
      if (msg.id === id) return msg.results!;
    }
  };

  /** Calls in rounds until `done` holds for a round, or the time is up; returns the last round. */
  const callUntil = async (n: number, done: (r: CallResult[]) => boolean, ms = 15_000): Promise<CallResult[]> => {
    const end = Date.now() + ms;
    let last: CallResult[] = [];
    while (Date.now() < end) {
      last = await calls(n);
      if (done(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    return last;
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([startBackend('A'), startBackend('B')]);
    ads.addTo(xdsServer);
    const xdsPort = await new Promise<number>((resolve, reject) =>
      xdsServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    ads.update(snapshot(1, [backendA(), backendB()]));
    ads.flush();
    const bootstrap = {
      xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'sidecar~127.0.0.1~client.default~default.svc.cluster.local', cluster: 'client', locality: {}, metadata: { NAMESPACE: 'default' } },
    };
    child = fork(`${fixtures}xds-echo-client.cjs`, [`xds:///${HOST}:${PORT}`], {
      env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await once(child, 'message');
  });

  afterAll(async () => {
    child?.send({ cmd: 'exit' });
    ads.close();
    xdsServer.forceShutdown();
    a?.server.forceShutdown();
    b?.server.forceShutdown();
  });

  it('reaches every endpoint of the service', async () => {
    const seen = new Set<string>();
    const round = await callUntil(6, (r) => {
      for (const c of r) if (c.backend) seen.add(c.backend);
      return r.every((c) => c.backend) && seen.size === 2;
    });
    expect(round.filter((c) => c.error)).toEqual([]);
    expect([...seen].sort()).toEqual(['A', 'B']);
  });

  it('ACKs LDS, RDS, CDS and EDS, and shows in syncz and metrics', async () => {
    await eventually(() => expect(ads.syncz()[0]?.types[TYPE_URL.endpoint]?.status).toBe('ACKED'));
    const [proxy] = ads.syncz();
    expect(proxy).toBeDefined();
    expect(proxy!.proxyType).toBe('grpc');
    expect(proxy!.node.id).toMatch(/^sidecar~/);
    expect(proxy!.types[TYPE_URL.listener]).toMatchObject({ subscribed: [`${HOST}:${PORT}`], status: 'ACKED', ackedVersion: '1' });
    expect(proxy!.types[TYPE_URL.route]).toMatchObject({ subscribed: [`${HOST}:${PORT}`], status: 'ACKED' });
    expect(proxy!.types[TYPE_URL.cluster]!.status).toBe('ACKED');
    expect(proxy!.types[TYPE_URL.endpoint]).toMatchObject({ subscribed: [`outbound|${PORT}||${HOST}`], status: 'ACKED' });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/pilot_xds\{[^}]*proxy_type="grpc"[^}]*\} 1/);
    expect(text).toMatch(/pilot_xds_pushes\{type="eds"\} [1-9]/);
    expect(text).not.toMatch(/pilot_total_xds_rejects\{/);
  });

  it('follows a change of endpoints without restarting', async () => {
    ads.update(snapshot(2, [backendB()]));
    const round = await callUntil(6, (r) => r.every((c) => c.backend === 'B'));
    expect(round.map((c) => c.backend ?? c.error)).toEqual(['B', 'B', 'B', 'B', 'B', 'B']);
    await eventually(() => expect(ads.syncz()[0]!.types[TYPE_URL.endpoint]).toMatchObject({ status: 'ACKED', ackedVersion: '2' }));
    // And back: both again.
    ads.update(snapshot(3, [backendA(), backendB()]));
    const seen = new Set<string>();
    await callUntil(6, (r) => {
      for (const c of r) if (c.backend) seen.add(c.backend);
      return seen.size === 2;
    });
    expect([...seen].sort()).toEqual(['A', 'B']);
  });
});
