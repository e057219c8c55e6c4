/**
 * Per-route fault injection (envoy.filters.http.fault's HTTPFault from typed_per_filter_config):
 * a delay (fixed_delay, or the `x-envoy-fault-delay-request` header when header_delay is set) and
 * an abort (http_status, grpc_status, or `x-envoy-fault-abort-request` / `-grpc-request` headers
 * when header_abort is set), each on its percentage of requests (absent percentage: 0%, as in
 * Envoy's proto), drawn with the caller's random, only for requests matching `headers`.
 * `upstreamCluster` (when set) limits the fault to requests routed there; `maxActiveFaults` is for
 * the engine to count.
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { durationMs, fraction, set } from './proto.ts';
import { compileHeaderMatcher } from './request-match.ts';
import type { HeaderMatch } from './request-match.ts';
import type { RouteRequest } from './types.ts';
import { RouteCompileError } from './types.ts';

export interface FaultAbort {
  /** HTTP status to answer with; 0 with grpcStatus set means a gRPC trailers-only answer (HTTP 200). */
  readonly httpStatus: number;
  readonly grpcStatus: number | undefined;
}

export class Fault {
  constructor(
    readonly headers: readonly HeaderMatch[],
    readonly delayFraction: number,
    readonly delayMsFixed: number,
    readonly delayFromHeader: boolean,
    readonly abortFraction: number,
    readonly abortValue: FaultAbort | undefined,
    readonly abortFromHeader: boolean,
    readonly upstreamCluster: string,
    readonly maxActiveFaults: number | undefined,
  ) {}

  /** Whether the fault applies to this request at all (its header matchers). */
  applies(req: RouteRequest): boolean {
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) if (!hs[i]!.matches(req)) return false;
    return true;
  }

  /** Milliseconds to delay this request (0: none). One random draw. */
  delayMs(req: RouteRequest, random: () => number): number {
    if (this.delayFraction <= 0 || !(random() < this.delayFraction)) return 0;
    if (this.delayFromHeader) {
      const v = Number(req.header('x-envoy-fault-delay-request'));
      return Number.isFinite(v) && v > 0 ? v : 0;
    }
    return this.delayMsFixed;
  }

  /** The abort for this request, or undefined. One random draw. */
  abort(req: RouteRequest, random: () => number): FaultAbort | undefined {
    if (this.abortFraction <= 0 || !(random() < this.abortFraction)) return undefined;
    if (!this.abortFromHeader) return this.abortValue;
    const http = Number(req.header('x-envoy-fault-abort-request'));
    if (http >= 200 && http < 600) return { httpStatus: http, grpcStatus: undefined };
    const grpc = req.header('x-envoy-fault-abort-grpc-request');
    if (grpc !== undefined && /^\d+$/.test(grpc)) return { httpStatus: 0, grpcStatus: Number(grpc) };
    return undefined;
  }
}

export function compileFault(f: envoy.extensions.filters.http.fault.v3.HTTPFault.$Properties, path: string): Fault {
  const headers = (f.headers ?? []).map((h, i) => compileHeaderMatcher(h, `${path}.headers[${i}]`));
  const d = f.delay;
  const a = f.abort;
  let abortValue: FaultAbort | undefined;
  if (set(a)) {
    if (set(a.httpStatus)) {
      if (a.httpStatus < 200 || a.httpStatus >= 600) throw new RouteCompileError(`${path}.abort.http_status`, `${a.httpStatus} is not in [200, 600)`);
      abortValue = { httpStatus: a.httpStatus, grpcStatus: undefined };
    } else if (set(a.grpcStatus)) abortValue = { httpStatus: 0, grpcStatus: a.grpcStatus };
    else if (!set(a.headerAbort)) throw new RouteCompileError(`${path}.abort`, 'needs http_status, grpc_status or header_abort');
  }
  return new Fault(
    headers,
    set(d) ? fraction(d.percentage, 0) : 0,
    set(d) ? durationMs(d.fixedDelay, 0) : 0,
    set(d) && set(d.headerDelay),
    set(a) ? fraction(a.percentage, 0) : 0,
    abortValue,
    set(a) && set(a.headerAbort),
    f.upstreamCluster ?? '',
    set(f.maxActiveFaults) ? (f.maxActiveFaults.value ?? 0) : undefined,
  );
}
