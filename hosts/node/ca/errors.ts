/**
 * Why the CA refused a request: one closed reason (the metrics label and log field) and the gRPC
 * status it maps to (conventions.md 9).
 */
import type { CsrRefusalReason } from '../../../core/identity/index.ts';

export type RefusalReason = CsrRefusalReason | 'no-token' | 'bad-token' | 'not-authorized' | 'bad-request' | 'internal';

export type RefusalCode = 'UNAUTHENTICATED' | 'PERMISSION_DENIED' | 'INVALID_ARGUMENT' | 'INTERNAL';

const CODES: Record<RefusalReason, RefusalCode> = {
  'no-token': 'UNAUTHENTICATED',
  'bad-token': 'UNAUTHENTICATED',
  'not-authorized': 'PERMISSION_DENIED',
  'malformed-csr': 'INVALID_ARGUMENT',
  'weak-key': 'INVALID_ARGUMENT',
  'signature-algorithm': 'INVALID_ARGUMENT',
  'bad-signature': 'INVALID_ARGUMENT',
  san: 'INVALID_ARGUMENT',
  'trust-domain': 'INVALID_ARGUMENT',
  'bad-request': 'INVALID_ARGUMENT',
  internal: 'INTERNAL',
};

export class CaRefusal extends Error {
  override name = 'CaRefusal';
  readonly code: RefusalCode;
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
    this.code = CODES[reason];
  }
}
