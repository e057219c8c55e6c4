/**
 * Canned admin dumps for the proxy-config tests, in the shape hosts/node/node-proxy/README.md
 * documents, with real certificates from an in-process mesh CA.
 */
import { caFromPems, makeRootCa } from '../ca/index.ts';
import { createKeyAndCsr } from '../ca/csr.ts';
import { buildWorkloadCertificate, certificateInfo } from '../certs/workload-certificate.ts';

export const ID_A = 'spiffe://cluster.local/ns/default/sa/a';

export function cannedDump(): { dump: Record<string, unknown>; rootPem: string; serial: string; notAfter: number } {
  const root = makeRootCa({ org: 'cluster.local', now: Date.now() - 60_000 });
  const ca = caFromPems({ caCertPem: root.certPem, caKeyPem: root.keyPem, rootCertPem: root.certPem, source: 'test' });
  const { keyPem, csrPem } = createKeyAndCsr(ID_A);
  const chain = ca.sign(csrPem, { identity: ID_A, validitySeconds: 3600, trustDomains: ['cluster.local'] });
  const cert = buildWorkloadCertificate({ identity: ID_A, keyPem, chainPems: chain, rootPems: [root.certPem] });
  const wl = (name: string, ip: string, node: string, sa: string, tunnel: string, services: Record<string, Record<string, number>>) => ({
    uid: `Kubernetes//Pod/default/${name}`, name, namespace: 'default', addresses: [ip], hostname: '', network: '', tunnel,
    trustDomain: 'cluster.local', serviceAccount: sa, identity: `spiffe://cluster.local/ns/default/sa/${sa}`, node, healthy: true, services, authorizationPolicies: [],
  });
  const dump = {
    node: { name: 'node1', listen: '10.250.0.11', ports: { admin: 15000 } },
    version: 7,
    mesh: { outboundPolicy: 'ALLOW_ANY', trustDomain: 'cluster.local' },
    workloads: [
      wl('a', '10.244.1.10', 'node1', 'a', 'HBONE', {}),
      wl('b', '10.244.1.11', 'node1', 'b', 'HBONE', { 'default/b.default.svc.cluster.local': { '80': 8080 } }),
      wl('c', '10.244.2.10', 'node2', 'c', 'NONE', {}),
    ],
    services: [
      { key: 'default/b.default.svc.cluster.local', name: 'b', namespace: 'default', hostname: 'b.default.svc.cluster.local', vips: [{ network: '', ip: '10.96.0.20', length: 32 }], ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 'UNKNOWN' }], subjectAltNames: [] },
    ],
    policies: [
      { key: 'default/deny-c', name: 'deny-c', namespace: 'default', scope: 'NAMESPACE', action: 'DENY', dryRun: false, rules: [] },
      { key: 'istio-system/allow', name: 'allow', namespace: 'istio-system', scope: 'GLOBAL', action: 'ALLOW', dryRun: true, rules: [] },
    ],
    certificates: [{ state: 'valid', ...certificateInfo(cert) }, { identity: 'spiffe://cluster.local/ns/default/sa/b', state: 'pending' }],
  };
  return { dump, rootPem: root.certPem, serial: cert.serial, notAfter: cert.notAfter };
}
