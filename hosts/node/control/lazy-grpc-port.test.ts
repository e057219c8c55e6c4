/**
 * `weft up`'s control plane (lazyGrpc): 15010 and 15012 are bound at start with no gRPC server behind
 * them, and the first connection makes it: a delta xDS client gets its workloads over plaintext 15010
 * and over TLS 15012 (join token), and the CA signs over 15012, as against an eager control plane.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_URL } from '../../../core/xds/type-urls.ts';
import { createKeyAndCsr } from '../ca/csr.ts';
import { createCaSigner } from '../certs/ca-client.ts';
import { DeltaXdsClient } from '../xds/delta-client.ts';
import { ControlPlane } from './control-plane.ts';
import { listenLazily } from './lazy-grpc-port.ts';

const CONTROL_ID = 'spiffe://cluster.local/ns/weft-system/sa/weft-control';
const YAML = `apiVersion: v1
kind: Namespace
metadata: { name: web, labels: { istio.io/dataplane-mode: ambient } }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: web }
spec: { clusterIP: 10.96.0.10, selector: { app: echo }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-1, namespace: web, labels: { app: echo, weft.io/node: n1 } }
spec: { address: 127.0.0.1, serviceAccount: echo }
`;

let cp: ControlPlane;
let state: string;

beforeAll(async () => {
  state = mkdtempSync(join(tmpdir(), 'weft-lazy-grpc-'));
  cp = await ControlPlane.start({ files: [{ path: 'mesh.yaml', text: YAML }], stateDir: state, listen: '127.0.0.1', xdsListen: '127.0.0.1', xdsPort: 0, securePort: 0, httpPort: 0, debounceMs: 5, lazyGrpc: true, log: () => {} });
});

afterAll(async () => {
  await cp?.stop();
  rmSync(state, { recursive: true, force: true });
});

function workloads(address: string, tls: boolean): Promise<string[]> {
  const client = new DeltaXdsClient({
    address,
    ...(tls ? { tls: { rootCert: cp.rootCertPem, serverIdentity: CONTROL_ID }, token: cp.createToken({ kind: 'node', node: 'n1' }) } : {}),
    node: { id: 'ztunnel~127.0.0.1~n1.web~web.svc.cluster.local', metadata: { NODE_NAME: 'n1' } },
    subscriptions: [{ typeUrl: TYPE_URL.address }],
    backoff: { initialMs: 50, maxMs: 200 },
  });
  return new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no workloads from ${address} in 10 s`)), 10_000);
    client.on('update', () => {
      const names = [...client.resources(TYPE_URL.address).keys()];
      if (!names.length) return;
      clearTimeout(timer);
      client.close();
      resolve(names);
    });
    client.start();
  });
}

describe('lazy gRPC ports', () => {
  it('are bound at start with no gRPC server behind them', async () => {
    expect(cp.ports.xds).toBeGreaterThan(0);
    expect(cp.ports.secure).toBeGreaterThan(0);
    expect(cp.grpcServers).toEqual({ plain: false, secure: false });
    // a TCP connection is accepted (the port is really listening)
    await new Promise<void>((resolve, reject) => connect(cp.ports.xds, '127.0.0.1').once('connect', function (this: import('node:net').Socket) { this.destroy(); resolve(); }).once('error', reject));
  });

  it('serve delta xDS over plaintext 15010 once a client connects', async () => {
    const names = await workloads(`127.0.0.1:${cp.ports.xds}`, false);
    expect(names).toContain('Kubernetes/networking.istio.io/WorkloadEntry/web/echo-1');
    expect(cp.grpcServers.plain).toBe(true);
  });

  it('serve delta xDS over TLS 15012 with a join token, and the CA', async () => {
    expect(cp.grpcServers.secure).toBe(false);
    const names = await workloads(`127.0.0.1:${cp.ports.secure}`, true);
    expect(names).toContain('Kubernetes/networking.istio.io/WorkloadEntry/web/echo-1');
    expect(cp.grpcServers.secure).toBe(true);
    const signer = createCaSigner({ address: `127.0.0.1:${cp.ports.secure}`, rootCert: cp.rootCertPem, token: cp.createToken({ kind: 'node', node: 'n1' }), trustDomain: 'cluster.local' });
    const identity = 'spiffe://cluster.local/ns/web/sa/echo';
    const chain = await signer.sign({ identity, csrPem: createKeyAndCsr(identity).csrPem, validitySeconds: 3600 });
    signer.close();
    expect(chain.length).toBeGreaterThanOrEqual(2);
  });

  it('a server that cannot be made closes that connection and reports it, and the port stays', async () => {
    const errors: string[] = [];
    let tries = 0;
    const port = await listenLazily('127.0.0.1', 0, () => {
      tries++;
      throw new Error('no credentials');
    }, (e) => errors.push(e.message));
    try {
      for (let i = 0; i < 2; i++) {
        await new Promise<void>((resolve, reject) => {
          const s = connect(port.port, '127.0.0.1');
          s.once('error', reject);
          s.once('close', () => resolve());
          s.resume();
        });
      }
      expect(errors).toEqual(['no credentials', 'no credentials']);
      expect(tries).toBe(2);
      expect(port.server).toBeUndefined();
    } finally {
      await port.close();
    }
  });
});
