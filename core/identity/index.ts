/**
 * core/identity: SPIFFE ids, the DER/X.509/PKCS#10 encoding the CA needs, CSR policy and CSR
 * authorization. Pure functions over Uint8Array; keys and signatures belong to the hosts.
 */
export * from './spiffe.ts';
export * from './oid.ts';
export * from './pem.ts';
export * from './x509-name.ts';
export * from './key-info.ts';
export * from './extensions.ts';
export * from './csr.ts';
export * from './certificate.ts';
export * from './csr-policy.ts';
export * from './authorize.ts';
export { DerError, parseDer, readNode, children, type DerNode } from './der-reader.ts';
export { TAG, sequence, integer, oid, x509Time } from './der-writer.ts';
