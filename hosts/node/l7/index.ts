/** The L7 engine of the gateway and waypoint: see README.md. */
export type { L7Handler, L7Exchange, RequestHeadView, ForwardOptions, HeadMutation, Upstream, UpstreamOutcome, UpstreamFailure, ExchangeSummary, DownstreamPeer, ResponseHeadHook } from './handler.ts';
export { L7Server, type L7ServerOptions } from './server.ts';
export { Http1Endpoint, tcpDial, type Dial, type Http1PoolOptions } from './upstream-pool.ts';
export { H2Endpoint, type H2PoolOptions } from './h2-upstream.ts';
export { HeadError, HeadReader, parseHead, DEFAULT_HEAD_LIMITS, type HeadLimits, type Http1Head } from './http1-parser.ts';
export { ChunkedDecoder } from './chunked.ts';
export { ForwardAllHandler } from './forward-all-handler.ts';
