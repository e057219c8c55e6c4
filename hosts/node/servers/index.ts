/**
 * The node proxy's side servers, each a small class with start() and drain(): the SOCKS5 / HTTP
 * CONNECT entry (15080), the DNS proxy (15053), admin (15000), stats (15020) and readiness (15021),
 * plus the bidirectional splice and the non-blocking access log writer the proxies share.
 */
export { ProxyEntryServer, type ProxyEntryOptions } from './proxy-entry-server.ts';
export type { ConnectOutcome, EntryRequest, Refusal, RefuseReason, Tunnel } from './entry-api.ts';
export { onFirstBulkTransfer, POOLED_READS, resetStream, splice, type SpliceEnd, type SpliceOwner } from './splice.ts';
export { DnsServer, type DnsCounters, type DnsLookup, type DnsServerOptions } from './dns-server.ts';
export { parseResolvConf, parseUpstream, readResolvConf, type Upstream } from './dns-upstream.ts';
export { AdminServer, type AdminServerOptions } from './admin-server.ts';
export { StatsServer, type MetricsSource, type StatsServerOptions } from './stats-server.ts';
export { ReadyServer, type ReadyServerOptions } from './ready-server.ts';
export { AccessLogWriter, type AccessLogWriterOptions } from './access-log-writer.ts';
export { makeTarget, plainAddress, type Target } from './target.ts';
