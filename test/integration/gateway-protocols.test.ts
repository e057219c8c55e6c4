/**
 * Protocols through the real gateway, end to end (issue 4): ONE `weft control` + ONE `weft gateway`
 * from the bundle serve
 * - HTTPS terminated from `kubernetes.io/tls` Secrets with SNI (Gateway API listeners `a.example.com`
 *   and `*.b.example.com`, an Istio Gateway server with `credentialName`), h2 by ALPN, a wrong SNI
 *   refused, a cross-namespace certificateRef refused until a ReferenceGrant allows it, and a Secret
 *   rotated by rewriting its file;
 * - gRPC (GRPCRoute method + header matches) from an unmodified @grpc/grpc-js client over h2c, with
 *   trailers passed through, a down backend as UNAVAILABLE and a missing backend as the 500 mapping;
 * - a WebSocket echo after the 101, server-sent events unbuffered, an 8 MB chunked upload byte-exact.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { startEchoBackend, wsFrame, type EchoBackend } from '../support/echo-backend.ts';
import type { GatewayProcess } from '../support/gateway-process.ts';
import { loopbackBlock, poll, type DebugStatus } from '../support/conformance.ts';
import { freePort, startControlAndGateway } from '../support/proxy-fixtures.ts';
import { namespace, yamlDocs } from '../support/mesh-yaml.ts';
import type { ControlProcess } from '../support/weft-process.ts';

const LISTEN = '127.0.0.1';
const dir = mkdtempSync(join(tmpdir(), 'weft-gw-proto-'));
const state = join(dir, 'state');
const config = join(dir, 'config');
const pki = join(dir, 'pki');
const addr = loopbackBlock();
let control: ControlProcess;
let gateway: GatewayProcess;
const echoes: EchoBackend[] = [];
const grpcServers: grpc.Server[] = [];
let streams: HttpServer;
let tlsPort = 0;
let istioTlsPort = 0;
let httpPort = 0;
let caPem = '';
/** The last SSE event's send time, per stream. */
const sseLastSent: number[] = [];

// ---- certificates (openssl)

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
}

/** A leaf for `dns` signed by the test CA; returns [certPem, keyPem]. */
function leaf(name: string, dns: string): [string, string] {
  writeFileSync(join(pki, `${name}.ext`), `subjectAltName=DNS:${dns}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${dns}`, '-out', `${name}.csr`]);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  return [execFileSync('cat', [join(pki, `${name}.crt`)]).toString(), execFileSync('cat', [join(pki, `${name}.key`)]).toString()];
}

function secretYaml(ns: string, name: string, [crt, key]: [string, string]): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${ns} }
type: kubernetes.io/tls
data:
  tls.crt: ${Buffer.from(crt).toString('base64')}
  tls.key: ${Buffer.from(key).toString('base64')}
`;
}

// ---- backends

const PROTO = `syntax = "proto3";
package weft.test;
message Msg { string text = 1; string from = 2; }
service Echo { rpc Unary (Msg) returns (Msg); rpc Fail (Msg) returns (Msg); rpc Many (Msg) returns (stream Msg); }
service Down { rpc Call (Msg) returns (Msg); }
service Missing { rpc Call (Msg) returns (Msg); }
`;
type Msg = { text: string; from: string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let proto: any;

async function startGrpc(host: string, from: string): Promise<number> {
  const server = new grpc.Server();
  server.addService(proto.weft.test.Echo.service, {
    Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const trailer = new grpc.Metadata();
      trailer.set('x-served-by', from);
      trailer.set('x-echo-trailer', 'done');
      cb(null, { text: call.request.text, from: `${from}:${String(call.metadata.get('x-pick')[0] ?? '')}` }, trailer);
    },
    Many: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      let i = 0;
      const next = () => {
        if (i === 3) {
          const trailer = new grpc.Metadata();
          trailer.set('x-count', '3');
          return void call.end(trailer);
        }
        call.write({ text: `${call.request.text} ${i++}`, from });
        setTimeout(next, 50);
      };
      next();
    },
    Fail: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const md = new grpc.Metadata();
      md.set('x-why', 'because');
      cb({ code: grpc.status.NOT_FOUND, details: 'no such thing', metadata: md });
    },
  });
  grpcServers.push(server);
  return new Promise<number>((resolve, reject) => server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
}

/** `/sse`: five events 200 ms apart; `/upload`: length and sha256 of the body. */
async function startStreams(host: string): Promise<number> {
  streams = createHttpServer((req, res) => {
    if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const slot = sseLastSent.length;
      sseLastSent.push(0);
      let i = 0;
      const tick = () => {
        res.write(`data: event ${i}\n\n`);
        if (++i < 5) return void setTimeout(tick, 200);
        sseLastSent[slot] = Date.now();
        res.end();
      };
      tick();
      return;
    }
    if (req.url === '/upload') {
      const h = createHash('sha256');
      let n = 0;
      req.on('data', (d: Buffer) => {
        n += d.length;
        h.update(d);
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ length: n, sha256: h.digest('hex'), te: req.headers['transfer-encoding'] ?? null }));
      });
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => streams.listen(0, host, () => resolve((streams.address() as { port: number }).port)));
}

// ---- config

function service(name: string, port: number, targetPort: number, address: string, vip: string, portName = 'http'): string {
  const labels = `{ app: ${name}, weft.io/node: n1 }`;
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: web }
spec:
  clusterIP: ${vip}
  selector: { app: ${name} }
  ports: [{ name: ${portName}, port: ${port}, targetPort: ${targetPort} }]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}-0, namespace: web, labels: ${labels} }
spec: { address: ${address}, labels: ${labels} }
`;
}

function gatewaysYaml(): string {
  return `${yamlDocs(namespace('web'), namespace('certs'))}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: edge, namespace: web }
spec:
  gatewayClassName: istio
  listeners:
    - { name: a, port: ${tlsPort}, protocol: HTTPS, hostname: a.example.com, tls: { mode: Terminate, certificateRefs: [{ kind: Secret, name: a-cert }] } }
    - { name: b, port: ${tlsPort}, protocol: HTTPS, hostname: "*.b.example.com", tls: { mode: Terminate, certificateRefs: [{ name: b-cert }] } }
    - { name: c, port: ${tlsPort}, protocol: HTTPS, hostname: c.example.com, tls: { mode: Terminate, certificateRefs: [{ name: c-cert, namespace: certs }] } }
    - { name: plain, port: ${httpPort}, protocol: HTTP }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: site-a, namespace: web }
spec:
  parentRefs: [{ name: edge, sectionName: a }, { name: edge, sectionName: c }]
  rules: [{ backendRefs: [{ name: echo-a, port: 80 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: site-b, namespace: web }
spec:
  parentRefs: [{ name: edge, sectionName: b }]
  rules: [{ backendRefs: [{ name: echo-b, port: 80 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: streams, namespace: web }
spec:
  parentRefs: [{ name: edge, sectionName: plain }]
  rules:
    - matches: [{ path: { type: Exact, value: /ws } }]
      backendRefs: [{ name: echo-a, port: 80 }]
    - matches: [{ path: { type: Exact, value: /sse } }, { path: { type: Exact, value: /upload } }]
      backendRefs: [{ name: streams, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: echo, namespace: web }
spec:
  parentRefs: [{ name: edge, sectionName: plain }, { name: edge, sectionName: b }]
  rules:
    - matches: [{ method: { service: weft.test.Echo, method: Unary }, headers: [{ name: x-pick, value: b }] }]
      backendRefs: [{ name: grpc-b, port: 9000 }]
    - matches: [{ method: { service: weft.test.Echo } }]
      backendRefs: [{ name: grpc-a, port: 9000 }]
    - matches: [{ method: { service: weft.test.Down, method: Call } }]
      backendRefs: [{ name: grpc-down, port: 9000 }]
    - matches: [{ method: { service: weft.test.Missing } }]
      backendRefs: [{ name: no-such-service, port: 9000 }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ingress, namespace: web }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: ${istioTlsPort}, name: https, protocol: HTTPS }
      hosts: ["istio.example.com"]
      tls: { mode: SIMPLE, credentialName: istio-cert }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: istio-site, namespace: web }
spec:
  hosts: ["istio.example.com"]
  gateways: [ingress]
  http: [{ route: [{ destination: { host: echo-b.web.svc.cluster.local, port: { number: 80 } } }] }]
`;
}

const GRANT = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: edge-certs, namespace: certs }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: Gateway, namespace: web }]
  to: [{ group: "", kind: Secret }]
`;

// ---- clients

interface TlsAnswer {
  status: number;
  body: string;
  cert: PeerCertificate;
  alpn: string | false | null;
}

/** One HTTPS GET by node's https with SNI `sni` (Host the same) on a new connection; the served certificate with it. */
function httpsGet(port: number, sni: string, path = '/', ca = caPem): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: LISTEN, port, path, servername: sni, ca, agent: false, headers: { host: sni }, timeout: 5000 }, (res) => {
      const sock = res.socket as import('node:tls').TLSSocket;
      const cert = sock.getPeerCertificate();
      const alpn = sock.alpnProtocol;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cert, alpn }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** The certificate a TLS handshake with SNI `sni` gets (no verification), or the handshake's error. */
function handshake(port: number, sni: string, alpn?: string[]): Promise<{ cert: PeerCertificate; alpn: string | false | null } | { error: string }> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: LISTEN, port, servername: sni, rejectUnauthorized: false, ...(alpn ? { ALPNProtocols: alpn } : {}) }, () => {
      const out = { cert: s.getPeerCertificate(), alpn: s.alpnProtocol };
      s.destroy();
      resolve(out);
    });
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('error', (e) => resolve({ error: e.message }));
  });
}

/** curl, asynchronously: the echo backends live in this process, so a blocking call would starve them. */
function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], (e, out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: String(out), err: String(err) }));
  });
}

function grpcClient(service: 'Echo' | 'Down' | 'Missing') {
  return new proto.weft.test[service](`${LISTEN}:${httpPort}`, grpc.credentials.createInsecure());
}

/** A client over TLS (ALPN h2) to the HTTPS listener `*.b.example.com`, SNI and authority `host`. */
function grpcTlsClient(host: string) {
  return new proto.weft.test.Echo(`${LISTEN}:${tlsPort}`, grpc.credentials.createSsl(Buffer.from(caPem)), { 'grpc.ssl_target_name_override': host, 'grpc.default_authority': host });
}

interface UnaryResult {
  err: grpc.ServiceError | null;
  value?: Msg;
  trailers?: grpc.Metadata;
}

function unary(client: grpc.Client, method: string, req: Msg, md = new grpc.Metadata()): Promise<UnaryResult> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const call = (client as any)[method](req, md, { deadline: Date.now() + 8000 }, (err: grpc.ServiceError | null, value?: Msg) => {
      setImmediate(() => resolve({ err, ...(value ? { value } : {}), ...(trailers ? { trailers } : {}) }));
    });
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

async function status(): Promise<DebugStatus> {
  const r = await fetch(`${control.http}/debug/status`, { signal: AbortSignal.timeout(5000) });
  return (await r.json()) as DebugStatus;
}

beforeAll(async () => {
  execFileSync('mkdir', ['-p', config, state, pki]);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-subj', '/CN=weft-test-ca', '-days', '2', '-out', 'ca.crt']);
  caPem = execFileSync('cat', [join(pki, 'ca.crt')]).toString();
  const pkg = protoLoader.loadSync((writeFileSync(join(pki, 'echo.proto'), PROTO), join(pki, 'echo.proto')), { keepCase: true, defaults: true });
  proto = grpc.loadPackageDefinition(pkg);

  echoes.push(await startEchoBackend({ host: addr(0, 1), httpPort: 0, h2cPort: null, pod: 'echo-a-5f7d8-aaaaa', namespace: 'web', log: () => {} }));
  echoes.push(await startEchoBackend({ host: addr(0, 2), httpPort: 0, h2cPort: null, pod: 'echo-b-5f7d8-bbbbb', namespace: 'web', log: () => {} }));
  const grpcA = await startGrpc(addr(0, 3), 'a');
  const grpcB = await startGrpc(addr(0, 4), 'b');
  const streamsPort = await startStreams(addr(0, 5));
  const downPort = await freePort(addr(0, 6));
  tlsPort = await freePort();
  istioTlsPort = await freePort();
  httpPort = await freePort();

  writeFileSync(
    join(config, 'backends.yaml'),
    [
      service('echo-a', 80, echoes[0]!.httpPort, addr(0, 1), '240.240.7.1'),
      service('echo-b', 80, echoes[1]!.httpPort, addr(0, 2), '240.240.7.2'),
      service('grpc-a', 9000, grpcA, addr(0, 3), '240.240.7.3', 'grpc'),
      service('grpc-b', 9000, grpcB, addr(0, 4), '240.240.7.4', 'grpc'),
      service('streams', 80, streamsPort, addr(0, 5), '240.240.7.5'),
      service('grpc-down', 9000, downPort, addr(0, 6), '240.240.7.6', 'grpc'),
    ].join('---\n'),
  );
  writeFileSync(join(config, 'gateways.yaml'), gatewaysYaml());
  writeFileSync(join(config, 'secret-a.yaml'), secretYaml('web', 'a-cert', leaf('a', 'a.example.com')));
  writeFileSync(join(config, 'secret-b.yaml'), secretYaml('web', 'b-cert', leaf('b', '*.b.example.com')));
  writeFileSync(join(config, 'secret-c.yaml'), secretYaml('certs', 'c-cert', leaf('c', 'c.example.com')));
  writeFileSync(join(config, 'secret-istio.yaml'), secretYaml('web', 'istio-cert', leaf('istio', 'istio.example.com')));

  ({ control, gateway } = await startControlAndGateway({ config, state, gateway: 'web/edge', listen: LISTEN, args: ['--label', 'istio=ingressgateway'], readyMs: 30_000 }));
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await control?.stop();
  for (const e of echoes) await e.close();
  for (const s of grpcServers) s.forceShutdown();
  streams?.closeAllConnections();
  await new Promise((r) => (streams ? streams.close(r) : r(undefined)));
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTPS: TLS termination from Secrets, SNI', () => {
  it('serves each SNI its certificate and the route behind it (node https and curl)', async () => {
    const a = await poll(() => httpsGet(tlsPort, 'a.example.com').catch(() => undefined), 15_000, 'https a.example.com');
    expect(a.status).toBe(200);
    expect(a.cert.subjectaltname).toBe('DNS:a.example.com');
    expect(JSON.parse(a.body).pod).toMatch(/^echo-a-/);
    const b = await httpsGet(tlsPort, 'x.b.example.com');
    expect(b.status).toBe(200);
    expect(b.cert.subjectaltname).toBe('DNS:*.b.example.com');
    expect(JSON.parse(b.body).pod).toMatch(/^echo-b-/);
    expect(JSON.parse(b.body).headers['X-Forwarded-Proto']).toEqual(['https']);

    const c = await curl(['--cacert', join(pki, 'ca.crt'), '--resolve', `y.b.example.com:${tlsPort}:${LISTEN}`, `https://y.b.example.com:${tlsPort}/curl`]);
    expect(c.err).toBe('');
    expect(JSON.parse(c.out)).toMatchObject({ path: '/curl', host: `y.b.example.com:${tlsPort}` });
    expect(JSON.parse(c.out).pod).toMatch(/^echo-b-/);

    // the Istio Gateway server (tls.mode SIMPLE, credentialName)
    const i = await poll(() => httpsGet(istioTlsPort, 'istio.example.com').catch(() => undefined), 10_000, 'https istio.example.com');
    expect(i.status).toBe(200);
    expect(i.cert.subjectaltname).toBe('DNS:istio.example.com');
    expect(JSON.parse(i.body).pod).toMatch(/^echo-b-/);
    const ic = await curl(['--cacert', join(pki, 'ca.crt'), '--resolve', `istio.example.com:${istioTlsPort}:${LISTEN}`, '-w', '\n%{http_code}', `https://istio.example.com:${istioTlsPort}/istio`]);
    expect(ic.out.trim().split('\n').pop()).toBe('200');
  });

  it('serves a client offering h2 by ALPN over HTTP/2 (node http2 and curl --http2)', async () => {
    const session = http2Connect(`https://${LISTEN}:${tlsPort}`, { ca: caPem, servername: 'a.example.com' });
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ':path': '/h2', ':authority': 'a.example.com' });
        let st = 0;
        let body = '';
        req.on('response', (h) => (st = Number(h[':status'])));
        req.setEncoding('utf8');
        req.on('data', (d) => (body += d));
        req.on('end', () => resolve({ status: st, body }));
        req.on('error', reject);
        req.end();
      });
      expect(session.alpnProtocol).toBe('h2');
      expect(status).toBe(200);
      expect(JSON.parse(body)).toMatchObject({ path: '/h2', host: 'a.example.com' });
      // TLS terminated at the gateway: https over h2 as over HTTP/1.1
      expect(JSON.parse(body).headers['X-Forwarded-Proto']).toEqual(['https']);
    } finally {
      session.close();
    }
    const c = await curl(['--http2', '--cacert', join(pki, 'ca.crt'), '--resolve', `a.example.com:${tlsPort}:${LISTEN}`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://a.example.com:${tlsPort}/`]);
    expect(c.out).toBe('2 200');
  });

  it('refuses a wrong SNI', async () => {
    const r = await handshake(tlsPort, 'wrong.example.com');
    expect('error' in r).toBe(true);
    const c = await curl(['--cacert', join(pki, 'ca.crt'), '--resolve', `wrong.example.com:${tlsPort}:${LISTEN}`, `https://wrong.example.com:${tlsPort}/`]);
    expect(c.code).not.toBe(0);
  });

  it('refuses a cross-namespace certificateRef without a ReferenceGrant (RefNotPermitted), serves it once granted', async () => {
    const st = await status();
    const edge = st.gatewayApi.gateways.find((g) => g.name === 'edge')!;
    const lc = edge.listeners.find((l) => l.name === 'c')!;
    expect(lc.conditions.find((x) => x.type === 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
    expect(edge.listeners.find((l) => l.name === 'a')!.conditions.find((x) => x.type === 'ResolvedRefs')).toMatchObject({ status: 'True' });
    const refused = await handshake(tlsPort, 'c.example.com');
    expect('error' in refused).toBe(true);

    writeFileSync(join(config, 'grant.yaml'), GRANT);
    const ok = await poll(() => httpsGet(tlsPort, 'c.example.com').catch(() => undefined), 15_000, 'https c.example.com after the grant');
    expect(ok.status).toBe(200);
    expect(ok.cert.subjectaltname).toBe('DNS:c.example.com');
    expect(JSON.parse(ok.body).pod).toMatch(/^echo-a-/);
    const after = (await status()).gatewayApi.gateways.find((g) => g.name === 'edge')!;
    expect(after.listeners.find((l) => l.name === 'c')!.conditions.find((x) => x.type === 'ResolvedRefs')).toMatchObject({ status: 'True' });
  });

  it('serves a rotated Secret to new connections without a restart', async () => {
    const before = await handshake(tlsPort, 'a.example.com');
    if ('error' in before) throw new Error(before.error);
    const pid = gateway.child.pid;
    writeFileSync(join(config, 'secret-a.yaml'), secretYaml('web', 'a-cert', leaf('a2', 'a.example.com')));
    const rotated = await poll(async () => {
      const r = await handshake(tlsPort, 'a.example.com');
      return 'cert' in r && r.cert.serialNumber !== before.cert.serialNumber ? r : undefined;
    }, 15_000, 'the rotated certificate');
    expect(rotated.cert.subjectaltname).toBe('DNS:a.example.com');
    const res = await httpsGet(tlsPort, 'a.example.com');
    expect(res.status).toBe(200);
    expect(res.cert.serialNumber).toBe(rotated.cert.serialNumber);
    expect(gateway.child.pid).toBe(pid);
    expect(gateway.child.exitCode).toBeNull();
  });
});

describe('gRPC through the gateway (h2c, GRPCRoute)', () => {
  it('routes by method and header, passes trailers and statuses through', async () => {
    const client = grpcClient('Echo');
    try {
      const a = await poll(async () => {
        const r = await unary(client, 'Unary', { text: 'hi', from: '' });
        return r.err ? undefined : r;
      }, 15_000, 'gRPC Unary through the gateway');
      expect(a.value).toEqual({ text: 'hi', from: 'a:' });
      expect(a.trailers?.get('x-served-by')).toEqual(['a']);
      expect(a.trailers?.get('x-echo-trailer')).toEqual(['done']);

      const md = new grpc.Metadata();
      md.set('x-pick', 'b');
      const b = await unary(client, 'Unary', { text: 'there', from: '' }, md);
      expect(b.err).toBeNull();
      expect(b.value).toEqual({ text: 'there', from: 'b:b' });
      expect(b.trailers?.get('x-served-by')).toEqual(['b']);

      // server streaming: messages as they are written, then the trailers
      const many = await new Promise<{ msgs: string[]; status: grpc.StatusObject }>((resolve, reject) => {
        const msgs: string[] = [];
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const call = (client as any).Many({ text: 'n', from: '' }, { deadline: Date.now() + 8000 });
        call.on('data', (m: Msg) => msgs.push(m.text));
        call.on('status', (st: grpc.StatusObject) => resolve({ msgs, status: st }));
        call.on('error', (e: grpc.ServiceError) => (e.code === grpc.status.OK ? undefined : reject(e)));
      });
      expect(many.msgs).toEqual(['n 0', 'n 1', 'n 2']);
      expect(many.status.code).toBe(grpc.status.OK);
      expect(many.status.metadata.get('x-count')).toEqual(['3']);

      // the header match is on Unary only: Fail with x-pick=b still goes to a (which fails it)
      const f = await unary(client, 'Fail', { text: '', from: '' }, md);
      expect(f.err?.code).toBe(grpc.status.NOT_FOUND);
      expect(f.err?.details).toBe('no such thing');
      expect(f.err?.metadata.get('x-why')).toEqual(['because']);
    } finally {
      client.close();
    }
  });

  it('serves gRPC over TLS (ALPN h2) on an HTTPS listener, beside that listener\'s HTTPRoute', async () => {
    const client = grpcTlsClient('g.b.example.com');
    try {
      const r = await poll(async () => {
        const x = await unary(client, 'Unary', { text: 'secure', from: '' });
        return x.err ? undefined : x;
      }, 15_000, 'gRPC over TLS through the gateway');
      expect(r.value).toEqual({ text: 'secure', from: 'a:' });
      expect(r.trailers?.get('x-echo-trailer')).toEqual(['done']);
    } finally {
      client.close();
    }
    // the listener's HTTPRoute still serves plain requests on the same host
    const h = await httpsGet(tlsPort, 'g.b.example.com', '/page');
    expect(JSON.parse(h.body).pod).toMatch(/^echo-b-/);
  });

  it('answers UNAVAILABLE for a backend that is down, and the 500 mapping for a missing backend', async () => {
    const down = grpcClient('Down');
    const missing = grpcClient('Missing');
    try {
      const d = await unary(down, 'Call', { text: '', from: '' });
      expect(d.err?.code).toBe(grpc.status.UNAVAILABLE);
      expect(d.err?.details ?? '').not.toMatch(/<html/i);
      const m = await unary(missing, 'Call', { text: '', from: '' });
      // Gateway API: an unresolved backend is HTTP 500; as gRPC (the HTTP to gRPC mapping) UNKNOWN
      expect(m.err?.code).toBe(grpc.status.UNKNOWN);
      expect(m.err?.details ?? '').not.toMatch(/<html/i);
    } finally {
      down.close();
      missing.close();
    }
  });
});

describe('WebSocket and streaming', () => {
  it('echoes WebSocket messages both ways after the 101', async () => {
    const sock: Socket = netConnect({ host: LISTEN, port: httpPort });
    await new Promise<void>((r, j) => sock.once('connect', r).once('error', j));
    try {
      const key = randomBytes(16).toString('base64');
      let buf = Buffer.alloc(0);
      let wake: (() => void) | undefined;
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        wake?.();
      });
      const until = async (ok: () => boolean, what: string) => {
        const end = Date.now() + 5000;
        while (!ok()) {
          if (Date.now() > end) throw new Error(`timeout waiting for ${what}: ${buf.toString('latin1').slice(0, 200)}`);
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 100);
          });
        }
      };
      sock.write(`GET /ws HTTP/1.1\r\nHost: ws.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      await until(() => buf.includes('\r\n\r\n'), 'the 101');
      const headEnd = buf.indexOf('\r\n\r\n') + 4;
      const head = buf.subarray(0, headEnd).toString('latin1');
      expect(head).toMatch(/^HTTP\/1\.1 101 /);
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      expect(head.toLowerCase()).toContain(`sec-websocket-accept: ${accept.toLowerCase()}`);
      buf = buf.subarray(headEnd);
      for (const text of ['hello', 'x'.repeat(70_000), 'bye']) {
        sock.write(wsFrame(0x1, Buffer.from(text), randomBytes(4)));
        const want = wsFrame(0x1, Buffer.from(text));
        await until(() => buf.length >= want.length, `echo of ${text.length} bytes`);
        expect(buf.subarray(0, want.length).equals(want)).toBe(true);
        buf = buf.subarray(want.length);
      }
      sock.write(wsFrame(0x8, Buffer.from([0x03, 0xe8]), randomBytes(4)));
      await until(() => buf.length >= 4, 'the close frame');
      expect(buf[0]! & 0x0f).toBe(0x8);
    } finally {
      sock.destroy();
    }
  });

  it('streams server-sent events without buffering', async () => {
    const got: { at: number; text: string }[] = [];
    const slot = sseLastSent.length;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: LISTEN, port: httpPort, path: '/sse', agent: false, headers: { host: 'sse.example.com', accept: 'text/event-stream' }, timeout: 10_000 }, (res) => {
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toBe('text/event-stream');
        res.setEncoding('utf8');
        res.on('data', (d: string) => got.push({ at: Date.now(), text: d }));
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
    const text = got.map((g) => g.text).join('');
    expect(text).toBe([0, 1, 2, 3, 4].map((i) => `data: event ${i}\n\n`).join(''));
    const lastSent = sseLastSent[slot]!;
    expect(lastSent).toBeGreaterThan(0);
    // the first event arrived before the last was sent (4 intervals of 200 ms later), not all at the end
    expect(got[0]!.text.startsWith('data: event 0')).toBe(true);
    expect(lastSent - got[0]!.at).toBeGreaterThan(200);
    expect(got.length).toBeGreaterThanOrEqual(2);
  });

  it('carries an 8 MB chunked upload byte-exact', async () => {
    const body = randomBytes(8 * 1024 * 1024);
    const want = createHash('sha256').update(body).digest('hex');
    const res = await new Promise<{ status: number; json: { length: number; sha256: string; te: string | null } }>((resolve, reject) => {
      const req = httpRequest({ host: LISTEN, port: httpPort, path: '/upload', method: 'POST', agent: false, headers: { host: 'upload.example.com', 'content-type': 'application/octet-stream' }, timeout: 20_000 }, (r) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (d) => (text += d));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, json: JSON.parse(text) }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      (async () => {
        for (let off = 0; off < body.length; off += 61_440) {
          if (!req.write(body.subarray(off, Math.min(off + 61_440, body.length)))) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch(reject);
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ length: body.length, sha256: want, te: 'chunked' });
  });
});
