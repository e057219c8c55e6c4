/**
 * HboneError: every failure of an HBONE connect or tunnel, with a closed reason that logs and
 * metrics use as is (conventions 9) and a message that says what to check.
 */
export type HboneReason =
  | 'no-certificate' // the source identity has no certificate (CA down?)
  | 'connect-failed' // TCP to the peer's 15008 failed
  | 'timeout'
  | 'tls-handshake' // TLS failed: protocol, ALPN, the peer refused our chain
  | 'peer-identity' // the peer's chain or SPIFFE id is not what we accept
  | 'peer-refused' // the peer's HBONE server refused the connection (GOAWAY with a reason)
  | 'http-status' // the CONNECT got a non-200 answer
  | 'upstream-reset' // stream reset or session gone
  | 'closed'; // the client was closed

export class HboneError extends Error {
  readonly reason: HboneReason;
  /** The CONNECT response status, for 'http-status'. */
  readonly status?: number;

  constructor(reason: HboneReason, message: string, o: { status?: number; cause?: unknown } = {}) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'HboneError';
    this.reason = reason;
    if (o.status !== undefined) this.status = o.status;
  }
}
