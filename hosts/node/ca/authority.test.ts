import { statSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { parseCertificate, pemDecodeAll } from '../../../core/identity/index.ts';
import { CaRefusal } from './errors.ts';
import { makeRootCa } from './ca-certs.ts';
import { caFromPems, loadCaDir, loadOrCreateCa } from './ca-material.ts';
import { createKeyAndCsr } from './csr.ts';
import { issueControlPlaneCertificate } from './control-plane-cert.ts';
import { defaultStateDir } from './state-dir.ts';
import { RSA, opensslCsr, openssl, tempDir, verifyChain, x509Text } from './test-support.ts';

const ID = 'spiffe://cluster.local/ns/default/sa/sleep';
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));
function tmp(): ReturnType<typeof tempDir> {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t;
}
const certOf = (pem: string) => parseCertificate(pemDecodeAll(pem)[0]!.der);

describe('CA material in the state directory', () => {
  test('self-signs a root at first start, with Istio file names and a private key file, and reuses it', async () => {
    const t = tmp();
    const stateDir = join(t.dir, 'state');
    const ca = await loadOrCreateCa({ stateDir, trustDomain: 'cluster.local' });
    for (const f of ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem']) expect(statSync(join(stateDir, f)).isFile()).toBe(true);
    expect(statSync(join(stateDir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(ca.subject).toBe('O=cluster.local, CN=Weft Root CA');
    expect(ca.caChainPems).toHaveLength(1);
    const text = x509Text(ca.rootCertPem);
    expect(text).toMatch(/CA:TRUE/);
    expect(text).toMatch(/ASN1 OID: prime256v1/);

    const again = await loadOrCreateCa({ stateDir, trustDomain: 'cluster.local' });
    expect(again.rootCertPem).toBe(ca.rootCertPem);
    // a leaf from the first CA verifies against the second's root: same key, same root
    expect(verifyChain(ca.sign(createKeyAndCsr(ID).csrPem, { identity: ID }), again.rootCertPem).ok).toBe(true);
  });

  test('a state directory missing its CA key fails with a message instead of making a new root', async () => {
    const t = tmp();
    await loadOrCreateCa({ stateDir: t.dir, trustDomain: 'cluster.local' });
    rmSync(join(t.dir, 'ca-key.pem'));
    await expect(loadOrCreateCa({ stateDir: t.dir, trustDomain: 'cluster.local' })).rejects.toThrow(/ca-key.pem is missing/);
  });

  test('the default state directory follows the user', () => {
    const want = process.getuid?.() === 0 ? '/var/lib/weft' : /\.local\/state\/weft$|weft$/;
    expect(defaultStateDir()).toMatch(want);
  });
});

describe('signing', () => {
  const root = makeRootCa({ org: 'cluster.local', cn: 'Test Root' });
  const ca = caFromPems({ caCertPem: root.certPem, caKeyPem: root.keyPem, rootCertPem: root.certPem, source: 'test' });

  test('a workload certificate: SPIFFE SAN (critical, empty subject), issuer names, 24 h, mTLS usages; openssl verifies it', () => {
    const now = Date.now();
    const chain = ca.sign(createKeyAndCsr(ID).csrPem, { identity: ID, now });
    expect(chain).toHaveLength(2);
    expect(chain[1]).toBe(ca.rootCertPem);
    const v = verifyChain(chain, ca.rootCertPem);
    expect(v.output).toMatch(/: OK/);
    expect(verifyChain(chain, ca.rootCertPem, ['-purpose', 'sslserver']).ok).toBe(true);
    expect(verifyChain(chain, ca.rootCertPem, ['-purpose', 'sslclient']).ok).toBe(true);
    const text = x509Text(chain[0]!);
    expect(text).toMatch(/X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster.local\/ns\/default\/sa\/sleep/);
    expect(text).toMatch(/Issuer: O = cluster.local, CN = Test Root/);
    expect(text).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/CA:FALSE/);
    const leaf = certOf(chain[0]!);
    expect(leaf.notAfter - now).toBeGreaterThan(24 * 3600_000 - 1000);
    expect(leaf.notAfter - now).toBeLessThanOrEqual(24 * 3600_000);
    expect(leaf.authorityKeyId).toEqual(certOf(root.certPem).subjectKeyId);
  });

  test('requested validity is honoured, and capped by the CA certificate', () => {
    const short = makeRootCa({ days: 1 });
    const shortCa = caFromPems({ caCertPem: short.certPem, caKeyPem: short.keyPem, rootCertPem: short.certPem, source: 'short' });
    const hour = certOf(shortCa.sign(createKeyAndCsr(ID).csrPem, { identity: ID, validitySeconds: 3600 })[0]!);
    expect(hour.notAfter - hour.notBefore).toBe(3600_000 + 60_000); // one hour, started a minute early
    const week = certOf(shortCa.sign(createKeyAndCsr(ID).csrPem, { identity: ID, validitySeconds: 7 * 86400 })[0]!);
    expect(week.notAfter).toBe(certOf(short.certPem).notAfter);
  });

  test('refuses a SAN other than the authorized identity, and a bad validity', () => {
    const csr = createKeyAndCsr(ID).csrPem;
    expect(() => ca.sign(csr, { identity: 'spiffe://cluster.local/ns/default/sa/other' })).toThrow(/CSR asks for .*sa\/sleep but the caller is authorized for .*sa\/other only/);
    try {
      ca.sign(csr, { identity: ID, validitySeconds: -5 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CaRefusal);
      expect((err as CaRefusal).code).toBe('INVALID_ARGUMENT');
    }
  });

  test("the control plane's certificate: SPIFFE id plus IP and DNS SANs, serverAuth only", () => {
    const cp = issueControlPlaneCertificate(ca, { trustDomain: 'cluster.local', ipAddresses: ['127.0.0.1', '0.0.0.0', '::1'] });
    const chain = pemDecodeAll(cp.chainPem).map((b) => b.der);
    expect(chain).toHaveLength(2);
    const text = x509Text(cp.chainPem);
    expect(text).toMatch(/URI:spiffe:\/\/cluster.local\/ns\/weft-system\/sa\/weft-control, DNS:localhost, DNS:weft-control.weft-system.svc, DNS:weft-control.weft-system.svc.cluster.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/);
    expect(text).toMatch(/Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
    const t = tmp();
    expect(verifyChain([cp.chainPem], ca.rootCertPem, ['-purpose', 'sslserver', '-verify_ip', '127.0.0.1']).ok).toBe(true);
    expect(verifyChain([cp.chainPem], ca.rootCertPem, ['-purpose', 'sslclient']).ok).toBe(false);
    expect(openssl(['pkey', '-noout', '-text', '-in', t.file('k.pem', cp.keyPem)])).toMatch(/prime256v1/);
  });
});

describe('plugged-in cacerts made by openssl (RSA, as Istio tools/certs makes them)', () => {
  test('loads, signs with RSA, and leaves chain through the intermediate to the root', async () => {
    const t = tmp();
    const f = t.file;
    openssl(['req', '-x509', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('root-key.pem'), '-out', f('root-cert.pem'), '-subj', '/O=Istio/CN=Root CA', '-days', '30', '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca-key.pem'), '-out', f('ca.csr'), '-subj', '/O=Istio/CN=Intermediate CA/L=cluster1']);
    f('ext.cnf', 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    openssl(['x509', '-req', '-in', f('ca.csr'), '-CA', f('root-cert.pem'), '-CAkey', f('root-key.pem'), '-CAcreateserial', '-days', '20', '-extfile', f('ext.cnf'), '-out', f('ca-cert.pem')]);
    f('cert-chain.pem', readFileSync(f('ca-cert.pem'), 'utf8') + readFileSync(f('root-cert.pem'), 'utf8'));
    const ca = await loadCaDir(t.dir);
    expect(ca.subject).toBe('O=Istio, CN=Intermediate CA, L=cluster1');
    expect(ca.caChainPems).toHaveLength(2);
    const { csrPem } = opensslCsr(RSA(2048), `URI:${ID}`);
    const chain = ca.sign(csrPem, { identity: ID });
    expect(chain).toHaveLength(3);
    expect(x509Text(chain[0]!)).toMatch(/Signature Algorithm: sha256WithRSAEncryption[\s\S]*Issuer: O = Istio, CN = Intermediate CA, L = cluster1/);
    expect(verifyChain(chain, readFileSync(f('root-cert.pem'), 'utf8')).output).toMatch(/OK/);

    // cert-chain.pem is optional: the chain is completed from root-cert.pem
    rmSync(f('cert-chain.pem'));
    expect((await loadCaDir(t.dir)).caChainPems).toHaveLength(2);

    // a key that is not the certificate's, and a chain from another root, fail at load
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('ca-key.pem')]);
    await expect(loadCaDir(t.dir)).rejects.toThrow(/ca-key.pem does not belong to .*ca-cert.pem/);
    writeFileSync(f('root-cert.pem'), makeRootCa().certPem);
    await expect(loadCaDir(t.dir)).rejects.toThrow(/no certificate in root-cert.pem issued "O=Istio, CN=Intermediate CA, L=cluster1"/);
  });

  test('a leaf certificate is not accepted as a CA', async () => {
    const t = tmp();
    const root = makeRootCa();
    const ca = caFromPems({ caCertPem: root.certPem, caKeyPem: root.keyPem, rootCertPem: root.certPem, source: 'x' });
    const { keyPem, csrPem } = createKeyAndCsr(ID);
    const [leaf] = ca.sign(csrPem, { identity: ID });
    t.file('ca-cert.pem', leaf);
    t.file('ca-key.pem', keyPem);
    t.file('root-cert.pem', root.certPem);
    await expect(loadCaDir(t.dir)).rejects.toThrow(/is not a CA certificate/);
  });
});
