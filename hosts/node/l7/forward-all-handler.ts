/**
 * The smallest L7Handler: every request to one upstream, with `x-forwarded-for` and
 * `x-forwarded-proto` added. For the integration tests and the engine benchmark; the gateway and
 * waypoint put core/route behind the same interface.
 */
import type { ExchangeSummary, ForwardOptions, L7Exchange, L7Handler, Upstream, UpstreamOutcome } from './handler.ts';

export class ForwardAllHandler implements L7Handler {
  /** Outcomes seen (tests read them); kept only when `record` is set. */
  readonly outcomes: UpstreamOutcome[] = [];
  readonly summaries: ExchangeSummary[] = [];

  constructor(
    readonly upstream: Upstream,
    readonly o: { record?: boolean; timeoutMs?: number; grpcUpstream?: Upstream } = {},
  ) {}

  request(ex: L7Exchange): void {
    const r = ex.request;
    const xff = r.header('x-forwarded-for');
    const options: ForwardOptions = {
      set: ['x-forwarded-for', xff === undefined ? r.remoteAddress : `${xff}, ${r.remoteAddress}`, 'x-forwarded-proto', r.scheme],
    };
    if (this.o.timeoutMs) options.timeoutMs = this.o.timeoutMs;
    ex.forward(r.grpc && this.o.grpcUpstream ? this.o.grpcUpstream : this.upstream, options);
  }

  upstreamOutcome(_ex: L7Exchange, outcome: UpstreamOutcome): void {
    if (this.o.record) this.outcomes.push(outcome);
  }

  end(_ex: L7Exchange, summary: ExchangeSummary): void {
    if (this.o.record) this.summaries.push(summary);
  }
}
