/**
 * The node proxy's side of Istio's CA API (design.md 5): sends a CSR to the control plane's
 * `IstioCertificateService/CreateCertificate` on 15012 over TLS, verifying the server by the mesh
 * root and its SPIFFE id (`spiffe://<td>/ns/weft-system/sa/weft-control`), not by host name, with
 * the join token as `authorization: Bearer` and the workload named in `ImpersonatedIdentity`, as
 * ztunnel sends it.
 */
import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { caClientConstructor, impersonationMetadata, type CaClient, type CertificateRequest, type CertificateResponse } from '../ca/ca-api.ts';
import { controlPlaneIdentity } from '../ca/control-plane-cert.ts';
import { uriSans } from '../hbone/peer-identity.ts';

/** What the certificate manager needs from a CA: a chain (leaf first) for a CSR. */
export interface CertificateSigner {
  sign(req: { identity: string; csrPem: string; validitySeconds: number }): Promise<string[]>;
  close?(): void;
}

export interface CaSignerOptions {
  /** `host:port` of the control plane's TLS port (15012). */
  address: string;
  /** The mesh root(s), PEM. */
  rootCert: string | Buffer;
  /** Join token, or a function returning the current one. */
  token: string | (() => string);
  trustDomain: string;
  /** Default: the control plane's identity in `trustDomain`. */
  serverIdentity?: string;
  /** Per-call deadline; default 10 s. */
  timeoutMs?: number;
}

/** grpc-js clients take call options (the deadline) before the callback; ca-api's type omits that overload. */
type CaClientWithOptions = CaClient & {
  CreateCertificate(req: CertificateRequest, md: Metadata, options: { deadline: number }, cb: (err: ServiceError | null, res?: CertificateResponse) => void): unknown;
};

/** A `CertificateSigner` that talks to `weft control` (or istiod: the API is the same). */
export function createCaSigner(o: CaSignerOptions): CertificateSigner & { close(): void } {
  const expected = o.serverIdentity ?? controlPlaneIdentity(o.trustDomain);
  const Client = caClientConstructor();
  const creds = credentials.createSsl(Buffer.from(o.rootCert), null, null, {
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const sans = uriSans(cert.subjectaltname);
      return sans.includes(expected) ? undefined : new Error(`the CA at ${o.address} presented ${sans.join(', ') || 'no URI SAN'}, expected ${expected}`);
    },
  });
  // verified by SPIFFE id: give TLS a fixed name so that no address goes out as SNI
  const client = new Client(o.address, creds, { 'grpc.ssl_target_name_override': 'weft-control' }) as CaClientWithOptions;
  const timeoutMs = o.timeoutMs ?? 10_000;
  return {
    sign: (req) =>
      new Promise((resolve, reject) => {
        const md = new Metadata();
        md.set('authorization', `Bearer ${typeof o.token === 'function' ? o.token() : o.token}`);
        client.CreateCertificate(
          { csr: req.csrPem, validityDuration: req.validitySeconds, metadata: impersonationMetadata(req.identity) },
          md,
          { deadline: Date.now() + timeoutMs },
          (err, res) => {
            if (err) return reject(new Error(`CA at ${o.address} refused or failed the CSR for ${req.identity}: ${err.details || err.message}`, { cause: err }));
            const chain = res?.certChain ?? [];
            if (chain.length === 0) return reject(new Error(`CA at ${o.address} returned an empty chain for ${req.identity}`));
            resolve(chain);
          },
        );
      }),
    close: () => client.close(),
  };
}
