/**
 * RetryPolicy, parsed once into a bit set so `shouldRetry` per attempt is a few comparisons.
 * Envoy's retry_on tokens (https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/router_filter#x-envoy-retry-on):
 * `5xx` (any 5xx, any reset, connect failure or per-try timeout), `gateway-error` (502/503/504 and
 * the same failures), `reset` (any reset or failure before a response), `connect-failure`,
 * `refused-stream` (an HTTP/2 REFUSED_STREAM), `retriable-4xx` (409), `retriable-status-codes`
 * (retriable_status_codes), and the gRPC ones on grpc-status (`cancelled`, `deadline-exceeded`,
 * `internal`, `resource-exhausted`, `unavailable`). Unknown tokens are ignored, as Envoy does.
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { durationMs, set, wrapped } from './proto.ts';

/** Why an attempt produced no response. */
export type ResetKind = 'connect-failure' | 'refused-stream' | 'reset' | 'timeout';

const ON_5XX = 1;
const ON_GATEWAY = 2;
const ON_RESET = 4;
const ON_CONNECT = 8;
const ON_REFUSED = 16;
const ON_4XX = 32;
const ON_CODES = 64;
const GRPC_CANCELLED = 128;
const GRPC_DEADLINE = 256;
const GRPC_INTERNAL = 512;
const GRPC_EXHAUSTED = 1024;
const GRPC_UNAVAILABLE = 2048;

const TOKENS: Record<string, number> = {
  '5xx': ON_5XX,
  'gateway-error': ON_GATEWAY,
  reset: ON_RESET,
  'connect-failure': ON_CONNECT,
  'refused-stream': ON_REFUSED,
  'retriable-4xx': ON_4XX,
  'retriable-status-codes': ON_CODES,
  cancelled: GRPC_CANCELLED,
  'deadline-exceeded': GRPC_DEADLINE,
  internal: GRPC_INTERNAL,
  'resource-exhausted': GRPC_EXHAUSTED,
  unavailable: GRPC_UNAVAILABLE,
};

export class RetryPolicy {
  constructor(
    readonly retryOn: number,
    /** num_retries (Envoy's default 1 when the policy is present). */
    readonly numRetries: number,
    /** per_try_timeout in ms; 0 = none (the route timeout bounds all tries). */
    readonly perTryTimeoutMs: number,
    readonly retriableStatusCodes: ReadonlySet<number>,
    /** retry_back_off: base and max interval in ms (Envoy's defaults 25 ms and 10 x base). */
    readonly backoffBaseMs: number,
    readonly backoffMaxMs: number,
    readonly tokens: readonly string[],
  ) {}

  /**
   * Whether an attempt that ended with HTTP `status` (0 when there was no response), or with
   * `reset` when it failed before one, may be retried. `grpcStatus` is the response's grpc-status.
   */
  shouldRetry(status: number, reset?: ResetKind, grpcStatus?: number): boolean {
    const on = this.retryOn;
    if (reset !== undefined) {
      if (on & (ON_5XX | ON_GATEWAY | ON_RESET)) return true;
      if (reset === 'connect-failure') return (on & ON_CONNECT) !== 0;
      if (reset === 'refused-stream') return (on & ON_REFUSED) !== 0;
      return false;
    }
    if (on & ON_5XX && status >= 500 && status <= 599) return true;
    if (on & ON_GATEWAY && (status === 502 || status === 503 || status === 504)) return true;
    if (on & ON_4XX && status === 409) return true;
    if (on & ON_CODES && this.retriableStatusCodes.has(status)) return true;
    if (grpcStatus !== undefined && on >= GRPC_CANCELLED) {
      if (on & GRPC_CANCELLED && grpcStatus === 1) return true;
      if (on & GRPC_DEADLINE && grpcStatus === 4) return true;
      if (on & GRPC_EXHAUSTED && grpcStatus === 8) return true;
      if (on & GRPC_INTERNAL && grpcStatus === 13) return true;
      if (on & GRPC_UNAVAILABLE && grpcStatus === 14) return true;
    }
    return false;
  }

  /** Envoy's fully jittered exponential back-off before retry `attempt` (1-based), with the caller's random. */
  backoffMs(attempt: number, random: () => number): number {
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(attempt - 1, 30));
    return Math.floor(random() * ceiling);
  }
}

export function compileRetryPolicy(p: envoy.config.route.v3.RetryPolicy.$Properties | null | undefined): RetryPolicy | undefined {
  if (!set(p)) return undefined;
  const tokens = (p.retryOn ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  let on = 0;
  for (const t of tokens) on |= TOKENS[t] ?? 0;
  const base = durationMs(p.retryBackOff?.baseInterval, 25);
  const max = durationMs(p.retryBackOff?.maxInterval, base * 10);
  return new RetryPolicy(on, wrapped(p.numRetries, 1), durationMs(p.perTryTimeout, 0), new Set(p.retriableStatusCodes ?? []), base, max, tokens);
}
