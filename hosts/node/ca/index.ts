/**
 * hosts/node/ca: the control plane's certificate authority (design.md 5): CA material on disk,
 * CSR signing, join tokens, the Istio CA gRPC service, and the control plane's serving certificate.
 */
export { CertificateAuthority, DEFAULT_WORKLOAD_TTL_SECONDS, MAX_WORKLOAD_TTL_SECONDS, type CheckedCsr, type SignOptions } from './authority.ts';
export { CA_FILES, caFromPems, loadCaDir, loadOrCreateCa, type CaPems, type LoadCaOptions } from './ca-material.ts';
export { makeIntermediateCa, makeRootCa, type IssuedCa } from './ca-certs.ts';
export { writeIntermediateCaDir, writeRootCaDir } from './cacerts-dir.ts';
export { TokenAuthority, TokenError, TOKEN_KEY_FILE, parseDuration, parseSubject } from './tokens.ts';
export { authenticate, createCaService, type CaServiceOptions } from './ca-service.ts';
export { caClientConstructor, caServiceDefinition, impersonationMetadata, CA_SERVICE_NAME, IMPERSONATED_IDENTITY, type CaClient } from './ca-api.ts';
export { controlPlaneIdentity, issueControlPlaneCertificate, type ControlPlaneCertificate } from './control-plane-cert.ts';
export { createCsr, createKeyAndCsr } from './csr.ts';
export { CaRefusal, type RefusalReason } from './errors.ts';
export { defaultStateDir } from './state-dir.ts';
export { openControlPlaneState } from './control-state.ts';
export { measureSigningRate, type SigningRate } from './signing-rate.ts';
