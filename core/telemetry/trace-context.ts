/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing and validating `traceparent`,
 * and the child context a proxy sends on (same trace id, its own span id as the parent, the
 * sampled flag kept). Runtime-neutral: random bytes come from the host (`TraceIds`), so a Node
 * host fills a pooled buffer from its CSPRNG and an edge isolate uses `crypto.getRandomValues`.
 *
 * `tracestate` is opaque here: a proxy that propagates passes it on unchanged (section 3.3); when
 * the trace is restarted (no or an invalid `traceparent`) it belongs to no trace we send and is
 * dropped (section 3.3.1: tracestate is not parsed when traceparent is invalid).
 */

/** A parsed, valid `traceparent`. */
export interface SpanContext {
  /** 32 lower-case hex digits, not all zero. */
  traceId: string;
  /** The sender's span: 16 lower-case hex digits, not all zero. */
  spanId: string;
  /** trace-flags as received (bit 0: sampled). */
  flags: number;
}

export const FLAG_SAMPLED = 0x01;

/** Where trace and span ids come from (random, never all zero). */
export interface TraceIds {
  traceId(): string;
  spanId(): string;
}

const DASH = 0x2d;

/** 0-15 for a lower-case hex digit, -1 otherwise (upper case is invalid in traceparent: 3.2.2). */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** Whether [from, to) are lower-case hex digits, not all of them zero. */
function hexNonZero(s: string, from: number, to: number): boolean {
  let any = 0;
  for (let i = from; i < to; i++) {
    const v = hexValue(s.charCodeAt(i));
    if (v < 0) return false;
    any |= v;
  }
  return any !== 0;
}

/**
 * Parses a `traceparent` field value: `version-traceid-parentid-flags` (3.2). Version 00 must be
 * exactly 55 characters; a higher version is parsed by its first 55 and may continue only after a
 * `-` (3.2.4, forward compatibility); version `ff` is invalid. Surrounding whitespace (HTTP OWS) is
 * ignored. Several `traceparent` fields, joined with a comma, are invalid. Undefined when invalid.
 */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  if (value === undefined) return undefined;
  let s = value;
  if (s.length !== 55) {
    s = s.trim();
    if (s.length < 55) return undefined;
  }
  const v0 = hexValue(s.charCodeAt(0));
  const v1 = hexValue(s.charCodeAt(1));
  if (v0 < 0 || v1 < 0 || (v0 === 15 && v1 === 15)) return undefined;
  if (v0 === 0 && v1 === 0 ? s.length !== 55 : s.length > 55 && s.charCodeAt(55) !== DASH) return undefined;
  if (s.charCodeAt(2) !== DASH || s.charCodeAt(35) !== DASH || s.charCodeAt(52) !== DASH) return undefined;
  if (!hexNonZero(s, 3, 35) || !hexNonZero(s, 36, 52)) return undefined;
  const f0 = hexValue(s.charCodeAt(53));
  const f1 = hexValue(s.charCodeAt(54));
  if (f0 < 0 || f1 < 0) return undefined;
  return { traceId: s.slice(3, 35), spanId: s.slice(36, 52), flags: (f0 << 4) | f1 };
}

/** Whether a context's sampled flag is set. */
export function isSampled(ctx: SpanContext): boolean {
  return (ctx.flags & FLAG_SAMPLED) !== 0;
}

/** A version 00 `traceparent`. Only the sampled flag is written (3.2.2.5: other bits are set to zero). */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}${sampled ? '-01' : '-00'}`;
}

/** The context a proxy sends on for an incoming one: same trace, a new span id (the proxy's span), sampled kept. */
export function childContext(parent: SpanContext, ids: TraceIds): SpanContext {
  return { traceId: parent.traceId, spanId: ids.spanId(), flags: parent.flags & FLAG_SAMPLED };
}

/** A new trace (no or an invalid incoming `traceparent`): new trace and span ids, sampled as decided. */
export function startContext(ids: TraceIds, sampled: boolean): SpanContext {
  return { traceId: ids.traceId(), spanId: ids.spanId(), flags: sampled ? FLAG_SAMPLED : 0 };
}

/**
 * The context to send on for a request's incoming `traceparent`: its child when valid, else a new
 * trace sampled by `sampleNew()` (asked only then). `parent` is the incoming context, if any.
 */
export function continueOrStart(incoming: string | undefined, ids: TraceIds, sampleNew: () => boolean): { ctx: SpanContext; parent: SpanContext | undefined } {
  const parent = parseTraceparent(incoming);
  return parent ? { ctx: childContext(parent, ids), parent } : { ctx: startContext(ids, sampleNew()), parent: undefined };
}

// ---- ids ----

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));

/** Lower-case hex of `bytes[from, from + len)`, a table lookup per byte (no number formatting). */
export function toHex(bytes: Uint8Array, from: number, len: number): string {
  let out = '';
  for (let i = from; i < from + len; i++) out += HEX[bytes[i]!]!;
  return out;
}

/**
 * Ids from a pool of random bytes refilled `poolBytes` at a time by `fill` (a CSPRNG such as
 * `crypto.getRandomValues`), so a request costs a slice of the pool, not a system call. `hex`
 * formats a range of the pool (a host may pass its native encoder; `toHex` otherwise).
 */
export class PooledTraceIds implements TraceIds {
  readonly #fill: (bytes: Uint8Array) => void;
  readonly #hex: (bytes: Uint8Array, from: number, len: number) => string;
  readonly #pool: Uint8Array;
  #off: number;

  constructor(fill: (bytes: Uint8Array) => void, o: { poolBytes?: number; pool?: Uint8Array; hex?: (bytes: Uint8Array, from: number, len: number) => string } = {}) {
    this.#fill = fill;
    this.#hex = o.hex ?? toHex;
    this.#pool = o.pool ?? new Uint8Array(o.poolBytes ?? 4096);
    if (this.#pool.length < 16 || this.#pool.length % 8 !== 0) throw new Error('PooledTraceIds: the pool must be a multiple of 8 bytes, at least 16');
    this.#off = this.#pool.length;
  }

  #take(len: number): number {
    for (;;) {
      if (this.#off + len > this.#pool.length) {
        this.#fill(this.#pool);
        this.#off = 0;
      }
      const at = this.#off;
      this.#off += len;
      const p = this.#pool;
      let any = 0;
      for (let i = at; i < at + len; i++) any |= p[i]!;
      if (any !== 0) return at; // all-zero ids are invalid (3.2.2.3, 3.2.2.4)
    }
  }

  traceId(): string {
    return this.#hex(this.#pool, this.#take(16), 16);
  }

  spanId(): string {
    return this.#hex(this.#pool, this.#take(8), 8);
  }
}
