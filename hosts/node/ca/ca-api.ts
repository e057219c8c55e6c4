/**
 * Istio's certificate API, `istio.v1.auth.IstioCertificateService/CreateCertificate`, as a
 * hand-built grpc-js service definition over the static protobuf code (no proto loading at run
 * time). The same definition serves the CA and builds clients (`makeClientConstructor`).
 */
import { makeClientConstructor, type ChannelCredentials, type Client, type ClientOptions, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { istio } from '../generated/ca-pb.js';

export const IstioCertificateRequest = istio.v1.auth.IstioCertificateRequest;
export const IstioCertificateResponse = istio.v1.auth.IstioCertificateResponse;
export type CertificateRequest = istio.v1.auth.IstioCertificateRequest.$Properties;
export type CertificateResponse = istio.v1.auth.IstioCertificateResponse.$Properties;

export const CA_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';
/** Metadata key a node proxy names the workload identity with (ztunnel's). */
export const IMPERSONATED_IDENTITY = 'ImpersonatedIdentity';

export const caServiceDefinition = {
  CreateCertificate: {
    path: `/${CA_SERVICE_NAME}/CreateCertificate`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: CertificateRequest): Buffer => Buffer.from(IstioCertificateRequest.encode(m).finish()),
    requestDeserialize: (b: Buffer): CertificateRequest => IstioCertificateRequest.decode(b),
    responseSerialize: (m: CertificateResponse): Buffer => Buffer.from(IstioCertificateResponse.encode(m).finish()),
    responseDeserialize: (b: Buffer): CertificateResponse => IstioCertificateResponse.decode(b),
    originalName: 'createCertificate',
  },
} as const;

export interface CaClient extends Client {
  CreateCertificate(
    req: CertificateRequest,
    metadata: Metadata,
    callback: (err: ServiceError | null, res?: CertificateResponse) => void,
  ): unknown;
}

/** A client for the CA: `new (caClientConstructor())(address, credentials)`. */
export function caClientConstructor(): new (address: string, credentials: ChannelCredentials, options?: ClientOptions) => CaClient {
  return makeClientConstructor(caServiceDefinition, CA_SERVICE_NAME) as unknown as new (address: string, credentials: ChannelCredentials, options?: ClientOptions) => CaClient;
}

/** The request's `metadata` Struct with ImpersonatedIdentity set, as ztunnel sends it. */
export function impersonationMetadata(identity: string): CertificateRequest['metadata'] {
  return { fields: { [IMPERSONATED_IDENTITY]: { stringValue: identity } } };
}
