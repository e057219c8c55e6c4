/**
 * hosts/node/certs: the node proxy's workload certificates: its own keys, CSRs to the control
 * plane's CA, renewal at half life, and the TLS contexts HBONE uses.
 */
export { CertificateManager, type CertificateListing, type CertificateManagerOptions, type CertificateState, type FailureEvent, type RotationEvent } from './certificate-manager.ts';
export { createCaSigner, type CaSignerOptions, type CertificateSigner } from './ca-client.ts';
export { buildWorkloadCertificate, certificateInfo, splitPems, workloadSecureContext, type CertificateInfo, type WorkloadCertificate } from './workload-certificate.ts';
export { backoffDelay, renewalDelay, type BackoffPolicy, type RenewalPolicy } from './renewal.ts';
