/**
 * The contract between the SOCKS5 / HTTP CONNECT entry and the node proxy that plugs into it:
 * a request (where the client wants to go, who the client is) in, a tunnel stream or a refusal out.
 */
import type { Duplex } from 'node:stream';
import type { ByteCounts } from '../../../core/telemetry/tcp-metrics.ts';
import type { SpliceEnd } from './splice.ts';
import type { Target } from './target.ts';
import type { EntryConnection } from './entry-connection.ts';

/**
 * Why a tunnel was not made, and what each client is told: `not-allowed` (policy, REGISTRY_ONLY):
 * SOCKS 0x02 / HTTP 403; `unreachable` (no endpoint, no route): 0x04 / 502; `refused` (the
 * destination refused): 0x05 / 502; `timeout`: 0x06 / 504. A thrown error: 0x01 / 502.
 */
export type RefuseReason = 'not-allowed' | 'unreachable' | 'refused' | 'timeout';
export interface Refusal {
  refuse: RefuseReason;
  /** Shown to HTTP clients in the 4xx/5xx body; say what to do ("is a NetworkPolicy blocking 15008?"). */
  message: string;
}

/** Where the client wants to go (`host` unresolved when `isName`) and who it is. */
export interface EntryRequest extends Target {
  sourceAddress: string;
  sourcePort: number;
  protocol: 'socks5' | 'http-connect';
  /** Aborted when the client goes away or the connect timeout passes before onConnect settles. */
  signal: AbortSignal;
}

/** A tunnel with its meter (bytes are added per chunk) and a hook for the close (metrics, access log). */
export interface Tunnel {
  stream: Duplex;
  counts?: ByteCounts;
  onClose?(end: SpliceEnd): void;
}
export type ConnectOutcome = Duplex | Tunnel | Refusal;

/** What a connection needs from its server. */
export interface EntryHost {
  readonly handshakeTimeoutMs: number;
  readonly connectTimeoutMs: number;
  onConnect(req: EntryRequest): Promise<ConnectOutcome>;
  untrack(conn: EntryConnection): void;
  log(level: 'debug' | 'warn', message: string): void;
}
