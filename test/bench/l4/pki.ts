/**
 * Certificates for the L4 bench, written to a temporary directory: one mesh root (Weft's CA code),
 * a client and a server workload certificate (ECDSA P-256, SPIFFE URI SANs), in the shapes each
 * contender reads (separate key/chain files; haproxy's key+chain in one file).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { caFromPems, makeRootCa } from '../../../hosts/node/ca/index.ts';
import { createKeyAndCsr } from '../../../hosts/node/ca/csr.ts';

export const CLIENT_ID = 'spiffe://cluster.local/ns/bench/sa/client';
export const SERVER_ID = 'spiffe://cluster.local/ns/bench/sa/server';

export interface BenchPki {
  root: string;
  client: { key: string; chain: string; combined: string };
  server: { key: string; chain: string; combined: string };
}

export function writePki(dir: string): BenchPki {
  const root = makeRootCa({ org: 'cluster.local' });
  const ca = caFromPems({ caCertPem: root.certPem, caKeyPem: root.keyPem, rootCertPem: root.certPem, source: 'bench' });
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const leaf = (name: string, identity: string) => {
    const { keyPem, csrPem } = createKeyAndCsr(identity);
    const chain = ca.sign(csrPem, { identity, validitySeconds: 86_400 });
    // leaf only: the root is the peer's trust anchor already
    return { key: file(`${name}-key.pem`, keyPem), chain: file(`${name}-chain.pem`, chain[0]!), combined: file(`${name}-combined.pem`, chain[0]! + keyPem) };
  };
  return { root: file('root.pem', root.certPem), client: leaf('client', CLIENT_ID), server: leaf('server', SERVER_ID) };
}
