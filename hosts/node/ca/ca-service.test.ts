import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ConfigResource, MeshSnapshot, WorkloadInfo } from '../../../core/config/snapshot.ts';
import { ControlMetrics } from '../control/metrics.ts';
import { caClientConstructor, impersonationMetadata, type CaClient, type CertificateRequest, type CertificateResponse } from './ca-api.ts';
import { createCaService } from './ca-service.ts';
import { loadOrCreateCa } from './ca-material.ts';
import { issueControlPlaneCertificate } from './control-plane-cert.ts';
import { createKeyAndCsr } from './csr.ts';
import { TokenAuthority } from './tokens.ts';
import { EC_P256, RSA, opensslCsr, tempDir, verifyChain, x509Text } from './test-support.ts';
import { pemDecodeAll, pemEncode } from '../../../core/identity/index.ts';

const TD = 'cluster.local';
const sa = (ns: string, name: string) => `spiffe://${TD}/ns/${ns}/sa/${name}`;

function workload(name: string, ns: string, serviceAccount: string, node: string): WorkloadInfo {
  return {
    uid: `Kubernetes//Pod/${ns}/${name}`, name, namespace: ns, kind: 'Pod', addresses: ['10.0.0.1'], node, serviceAccount,
    identity: sa(ns, serviceAccount), labels: {}, canonicalName: name, canonicalRevision: 'latest', workloadName: name,
    tunnelProtocol: 'HBONE', services: [], namedPorts: {}, healthy: true, network: '', clusterId: 'Kubernetes',
  };
}

const snapshot: Pick<MeshSnapshot, 'mesh' | 'workloads' | 'resources'> = {
  mesh: { trustDomain: TD, trustDomainAliases: [], outboundTrafficPolicy: 'ALLOW_ANY', clusterId: 'Kubernetes', network: '', domainSuffix: TD, rootCa: { source: 'state' }, rootNamespace: 'istio-system' },
  workloads: [workload('sleep-1', 'default', 'sleep', 'node-a'), workload('httpbin-1', 'default', 'httpbin', 'node-b')],
  resources: new Map<string, ConfigResource[]>(),
};

let server: grpc.Server;
let client: CaClient;
let tokens: TokenAuthority;
let rootPem: string;
const metrics = new ControlMetrics();
const logs: string[] = [];
const t = tempDir('weft-ca-service-');

beforeAll(async () => {
  const stateDir = join(t.dir, 'state');
  tokens = await TokenAuthority.loadOrCreate(stateDir);
  const ca = await loadOrCreateCa({ stateDir, trustDomain: TD });
  rootPem = ca.rootCertPem;
  const serving = issueControlPlaneCertificate(ca, { trustDomain: TD, ipAddresses: ['127.0.0.1'] });
  server = new grpc.Server();
  const svc = createCaService({ ca, tokens, snapshot: () => snapshot, metrics, log: (l) => logs.push(l) });
  server.addService(svc.definition, svc.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(serving.keyPem), cert_chain: Buffer.from(serving.chainPem) }], false), (err, p) => (err ? reject(err) : resolve(p))),
  );
  // the client trusts only the mesh root and checks the control plane's SPIFFE id (design.md 5)
  const creds = grpc.credentials.createSsl(Buffer.from(rootPem), null, null, {
    checkServerIdentity: (_host, cert) => (cert.subjectaltname?.split(', ').includes(`URI:${sa('weft-system', 'weft-control')}`) ? undefined : new Error(`unexpected control plane identity ${cert.subjectaltname}`)),
  });
  const Client = caClientConstructor();
  // SNI must be a name, not an IP (RFC 6066); the identity check above ignores it
  client = new Client(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'weft-control.weft-system.svc' });
});

afterAll(async () => {
  client?.close();
  await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
  t.cleanup();
});

function call(req: CertificateRequest, token?: string): Promise<{ res?: CertificateResponse; err?: grpc.ServiceError }> {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => client.CreateCertificate(req, md, (err, res) => resolve(err ? { err } : { res: res! })));
}

const nodeA = () => tokens.create({ kind: 'node', node: 'node-a' });
const asNode = (identity: string, csr = createKeyAndCsr(identity).csrPem) => ({ csr, validityDuration: 3600, metadata: impersonationMetadata(identity) });

describe('IstioCertificateService over TLS', () => {
  test('a node proxy gets a certificate for a workload on its node: chain verifies with openssl', async () => {
    const before = (await metrics.certsIssued.get()).values[0]?.value ?? 0;
    const { res, err } = await call(asNode(sa('default', 'sleep')), nodeA());
    expect(err).toBeUndefined();
    const chain = res!.certChain!;
    expect(chain).toHaveLength(2);
    expect(chain[1]).toBe(rootPem);
    expect(verifyChain(chain, rootPem).output).toMatch(/: OK/);
    const text = x509Text(chain[0]!);
    expect(text).toMatch(/URI:spiffe:\/\/cluster.local\/ns\/default\/sa\/sleep/);
    expect(text).toMatch(/Issuer: O = cluster.local, CN = Weft Root CA/);
    expect((await metrics.certsIssued.get()).values[0]!.value).toBe(before + 1);
  });

  test('a waypoint gets its own service account identity without ImpersonatedIdentity', async () => {
    const token = tokens.create({ kind: 'waypoint', namespace: 'default', name: 'waypoint' });
    const { res, err } = await call({ csr: createKeyAndCsr(sa('default', 'waypoint')).csrPem }, token);
    expect(err).toBeUndefined();
    expect(verifyChain(res!.certChain!, rootPem).ok).toBe(true);
  });

  const refusals: [string, () => [CertificateRequest, string | undefined], grpc.status, RegExp, string][] = [
    ['no token', () => [asNode(sa('default', 'sleep')), undefined], grpc.status.UNAUTHENTICATED, /no join token: send `authorization: Bearer <token>`/, 'no-token'],
    ['a bad token', () => [asNode(sa('default', 'sleep')), `${nodeA()}x`], grpc.status.UNAUTHENTICATED, /join token refused: token signature does not verify/, 'bad-token'],
    ['a node asking for a workload on another node', () => [asNode(sa('default', 'httpbin')), nodeA()], grpc.status.PERMISSION_DENIED, /node\/node-a hosts no workload with identity spiffe:\/\/cluster.local\/ns\/default\/sa\/httpbin \(its workloads run on node-b\)/, 'not-authorized'],
    ['a node without ImpersonatedIdentity', () => [{ csr: createKeyAndCsr(sa('default', 'sleep')).csrPem }, nodeA()], grpc.status.PERMISSION_DENIED, /must name the workload identity .* ImpersonatedIdentity/, 'not-authorized'],
    ['a gateway asking for another service account', () => [{ csr: createKeyAndCsr(sa('ingress', 'admin')).csrPem }, tokens.create({ kind: 'gateway', namespace: 'ingress', name: 'public' })], grpc.status.PERMISSION_DENIED, /gateway\/ingress\/public may get certificates only for its own service account's identity spiffe:\/\/cluster.local\/ns\/ingress\/sa\/public, not .*sa\/admin/, 'not-authorized'],
    ['another trust domain', () => [asNode('spiffe://evil.org/ns/default/sa/sleep'), nodeA()], grpc.status.INVALID_ARGUMENT, /trust domain "evil.org" of spiffe:\/\/evil.org\/ns\/default\/sa\/sleep is not this mesh's/, 'trust-domain'],
    ['two SANs', () => [asNode(sa('default', 'sleep'), opensslCsr(EC_P256, `URI:${sa('default', 'sleep')},URI:${sa('default', 'httpbin')}`).csrPem), nodeA()], grpc.status.INVALID_ARGUMENT, /CSR has 2 subjectAltNames/, 'san'],
    ['a DNS SAN only', () => [asNode(sa('default', 'sleep'), opensslCsr(EC_P256, 'DNS:sleep.default.svc').csrPem), nodeA()], grpc.status.INVALID_ARGUMENT, /subjectAltName is DNS sleep.default.svc, not a SPIFFE URI/, 'san'],
    ['an RSA 1024 key', () => [asNode(sa('default', 'sleep'), opensslCsr(RSA(1024), `URI:${sa('default', 'sleep')}`).csrPem), nodeA()], grpc.status.INVALID_ARGUMENT, /RSA key of 1024 bits is too weak/, 'weak-key'],
    ['a tampered CSR signature', () => [asNode(sa('default', 'sleep'), tamper(createKeyAndCsr(sa('default', 'sleep')).csrPem)), nodeA()], grpc.status.INVALID_ARGUMENT, /CSR signature does not verify/, 'bad-signature'],
    ['garbage instead of a CSR', () => [{ csr: 'hello', metadata: impersonationMetadata(sa('default', 'sleep')) }, nodeA()], grpc.status.INVALID_ARGUMENT, /expected one PEM "CERTIFICATE REQUEST" block/, 'malformed-csr'],
  ];

  test.each(refusals)('refuses %s with its status and message, logs and counts it', async (_, make, code, message, reason) => {
    const [req, token] = make();
    const before = (await metrics.certsRefused.get()).values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
    logs.length = 0;
    const { res, err } = await call(req, token);
    expect(res).toBeUndefined();
    expect(err!.code).toBe(code);
    expect(err!.details).toMatch(message);
    expect(logs).toHaveLength(1);
    const line = JSON.parse(logs[0]!);
    expect(line).toMatchObject({ level: 'warn', scope: 'ca', msg: 'certificate request refused', reason, code: grpc.status[code], error: err!.details });
    expect(line.peer).toMatch(/127\.0\.0\.1/);
    const after = (await metrics.certsRefused.get()).values.find((v) => v.labels['reason'] === reason)!.value;
    expect(after).toBe(before + 1);
  });

  test('metrics count every request', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/citadel_server_csr_count \d+/);
    expect(text).toMatch(/weft_ca_refused_total\{reason="weak-key"\} 1/);
  });
});

function tamper(csrPem: string): string {
  const der = Buffer.from(pemDecodeAll(csrPem)[0]!.der);
  // flip a bit in the last byte of the signature: the CSR still parses, the signature no longer verifies
  der[der.length - 1] = der[der.length - 1]! ^ 0x01;
  return pemEncode('CERTIFICATE REQUEST', der);
}
