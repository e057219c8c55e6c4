/**
 * The CA's gRPC service (design.md 5): authenticate the caller by its join token, check the CSR,
 * authorize the identity against the current snapshot, sign. Every refusal gets a gRPC status with
 * a message saying what is wrong, one JSON log line on stderr, and a count by reason.
 */
import { Metadata, status, type ServerUnaryCall, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { MeshSnapshot } from '../../../core/config/snapshot.ts';
import { authorizeCsr, describeCaller, trustDomainsOf, type Caller } from '../../../core/identity/index.ts';
import type { ControlMetrics } from '../control/metrics.ts';
import type { CertificateAuthority } from './authority.ts';
import { caServiceDefinition, IMPERSONATED_IDENTITY, type CertificateRequest, type CertificateResponse } from './ca-api.ts';
import { CaRefusal, type RefusalCode } from './errors.ts';
import { TokenError, type TokenAuthority } from './tokens.ts';

export interface CaServiceOptions {
  ca: CertificateAuthority;
  tokens: Pick<TokenAuthority, 'verify'>;
  snapshot: () => Pick<MeshSnapshot, 'mesh' | 'workloads' | 'resources'>;
  metrics?: Pick<ControlMetrics, 'csrs' | 'certsIssued' | 'certsRefused'>;
  /** Where refusal lines go; default stderr. */
  log?: (line: string) => void;
  now?: () => number;
}

const GRPC_CODE: Record<RefusalCode, status> = {
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  INTERNAL: status.INTERNAL,
};

/** The caller named by `authorization: Bearer <token>`; throws CaRefusal. */
export function authenticate(metadata: Metadata, tokens: Pick<TokenAuthority, 'verify'>, now?: number): Caller {
  const header = metadata.get('authorization')[0];
  if (header === undefined) throw new CaRefusal('no-token', 'no join token: send `authorization: Bearer <token>` metadata (make a token with `weft token create`)');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(String(header));
  if (!m) throw new CaRefusal('bad-token', 'authorization metadata must be `Bearer <token>`');
  try {
    return tokens.verify(m[1]!, now);
  } catch (err) {
    if (err instanceof TokenError) throw new CaRefusal('bad-token', `join token refused: ${err.message}`);
    throw err;
  }
}

export function createCaService(o: CaServiceOptions): { definition: typeof caServiceDefinition; implementation: UntypedServiceImplementation } {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = o.now ?? Date.now;

  /** `seen` records who asked for what, for the refusal log line. */
  function handle(call: ServerUnaryCall<CertificateRequest, CertificateResponse>, seen: { caller?: Caller; identity?: string }): CertificateResponse {
    const caller = authenticate(call.metadata, o.tokens, now());
    seen.caller = caller;
    const snap = o.snapshot();
    const trustDomains = trustDomainsOf(snap);
    const req = call.request;
    const checked = o.ca.inspectCsr(req.csr ?? '', { trustDomains });
    seen.identity = checked.uri;
    const imp = req.metadata?.fields?.[IMPERSONATED_IDENTITY];
    const impersonated = imp?.stringValue ?? undefined;
    if (imp && impersonated === undefined) throw new CaRefusal('bad-request', `metadata ${IMPERSONATED_IDENTITY} must be a string`);
    const authz = authorizeCsr(snap, { caller, requested: checked.identity, ...(impersonated !== undefined ? { impersonated } : {}) });
    if (!authz.ok) throw new CaRefusal('not-authorized', authz.message);
    const validitySeconds = Number(req.validityDuration ?? 0);
    const certChain = o.ca.sign(checked, { identity: checked.uri, validitySeconds, trustDomains, now: now() });
    return { certChain };
  }

  const CreateCertificate = (call: ServerUnaryCall<CertificateRequest, CertificateResponse>, callback: sendUnaryData<CertificateResponse>): void => {
    o.metrics?.csrs.inc();
    const seen: { caller?: Caller; identity?: string } = {};
    try {
      const res = handle(call, seen);
      o.metrics?.certsIssued.inc();
      callback(null, res);
    } catch (err) {
      const refusal = err instanceof CaRefusal ? err : new CaRefusal('internal', `internal error: ${(err as Error)?.message ?? String(err)}`);
      o.metrics?.certsRefused.inc({ reason: refusal.reason });
      log(
        JSON.stringify({
          time: new Date(now()).toISOString(),
          level: refusal.code === 'INTERNAL' ? 'error' : 'warn',
          scope: 'ca',
          msg: 'certificate request refused',
          reason: refusal.reason,
          code: refusal.code,
          caller: seen.caller ? describeCaller(seen.caller) : undefined,
          identity: seen.identity,
          peer: call.getPeer(),
          error: refusal.message,
        }),
      );
      callback({ code: GRPC_CODE[refusal.code], details: refusal.message, metadata: new Metadata() });
    }
  };

  return { definition: caServiceDefinition, implementation: { CreateCertificate } };
}
