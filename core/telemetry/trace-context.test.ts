import { describe, expect, it } from 'vitest';
import { childContext, continueOrStart, formatTraceparent, isSampled, parseTraceparent, PooledTraceIds, startContext, toHex } from './trace-context.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

/** Deterministic "random" bytes: 1, 2, 3, ... (mod 256). */
function counter(): (b: Uint8Array) => void {
  let n = 0;
  return (b) => {
    for (let i = 0; i < b.length; i++) b[i] = ++n & 0xff;
  };
}

describe('parseTraceparent (W3C Trace Context 3.2)', () => {
  it.each([
    [`00-${TRACE}-${PARENT}-01`, 1],
    [`00-${TRACE}-${PARENT}-00`, 0],
    // unknown flag bits are accepted (and not passed on)
    [`00-${TRACE}-${PARENT}-09`, 9],
    // OWS around the field value
    [` \t00-${TRACE}-${PARENT}-01 \t`, 1],
    // a future version: parsed by its first 55 characters, more only after a dash (3.2.4)
    [`cc-${TRACE}-${PARENT}-01`, 1],
    [`cc-${TRACE}-${PARENT}-01-what-the-future-will-be-like`, 1],
    [`01-${TRACE}-${PARENT}-01-`, 1],
  ])('accepts %j', (value, flags) => {
    expect(parseTraceparent(value)).toEqual({ traceId: TRACE, spanId: PARENT, flags });
  });

  it.each([
    ['', 'empty'],
    [`ff-${TRACE}-${PARENT}-01`, 'version ff is invalid'],
    [`0-${TRACE}-${PARENT}-01`, 'one-digit version'],
    [`0g-${TRACE}-${PARENT}-01`, 'non-hex version'],
    [`00-${TRACE}-${PARENT}-01-what-the-future-will-be-like`, 'version 00 with more data'],
    [`00-${TRACE}-${PARENT}-01-`, 'version 00 with a trailing dash'],
    [`cc-${TRACE}-${PARENT}-01.what-the-future-will-be-like`, 'a future version continuing without a dash'],
    [`00-00000000000000000000000000000000-${PARENT}-01`, 'all-zero trace id'],
    [`00-${TRACE}-0000000000000000-01`, 'all-zero parent id'],
    [`00-${TRACE.toUpperCase()}-${PARENT}-01`, 'upper-case trace id'],
    [`00-${TRACE}-${PARENT.toUpperCase()}-01`, 'upper-case parent id'],
    [`00-${TRACE.slice(1)}-${PARENT}-01`, 'trace id of 31 digits'],
    [`00-${TRACE}0-${PARENT}-01`, 'trace id of 33 digits'],
    [`00-${TRACE}-${PARENT.slice(1)}-01`, 'parent id of 15 digits'],
    [`00-${TRACE}-${PARENT}0-01`, 'parent id of 17 digits'],
    [`00-${TRACE}-${PARENT}-1`, 'one-digit flags'],
    [`00-${TRACE}-${PARENT}-0g`, 'non-hex flags'],
    [`00-${TRACE}-${PARENT}-0A`, 'upper-case flags'],
    [`00-${TRACE.slice(0, 31)}g-${PARENT}-01`, 'non-hex trace id'],
    [`00-${TRACE}-${PARENT.slice(0, 15)}z-01`, 'non-hex parent id'],
    [`00_${TRACE}_${PARENT}_01`, 'wrong delimiters'],
    [`00-${TRACE}${PARENT}-01--`, 'delimiters moved'],
    [`00-${TRACE}-${PARENT}-01,00-${TRACE}-${PARENT}-01`, 'two traceparent fields joined'],
  ])('rejects %j (%s)', (value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('rejects an absent field', () => {
    expect(parseTraceparent(undefined)).toBeUndefined();
  });
});

describe('child and started contexts', () => {
  const ids = new PooledTraceIds(counter(), { poolBytes: 32 });

  it('keeps the trace id and the sampled flag, with a new span id', () => {
    const parent = parseTraceparent(`00-${TRACE}-${PARENT}-01`)!;
    const child = childContext(parent, ids);
    expect(child.traceId).toBe(TRACE);
    expect(child.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(child.spanId).not.toBe(PARENT);
    expect(isSampled(child)).toBe(true);
    // only the sampled bit survives (3.2.2.5)
    expect(childContext(parseTraceparent(`00-${TRACE}-${PARENT}-08`)!, ids).flags).toBe(0);
    expect(childContext(parseTraceparent(`00-${TRACE}-${PARENT}-09`)!, ids).flags).toBe(1);
  });

  it('formats a version 00 traceparent that parses back', () => {
    const v = formatTraceparent(TRACE, PARENT, true);
    expect(v).toBe(`00-${TRACE}-${PARENT}-01`);
    expect(formatTraceparent(TRACE, PARENT, false)).toBe(`00-${TRACE}-${PARENT}-00`);
    const started = startContext(ids, false);
    expect(parseTraceparent(formatTraceparent(started.traceId, started.spanId, false))).toEqual(started);
  });

  it('continues a valid incoming context and starts one otherwise, sampling only new traces', () => {
    let asked = 0;
    const sample = () => (asked++, true);
    const cont = continueOrStart(`00-${TRACE}-${PARENT}-00`, ids, sample);
    expect(cont.parent?.spanId).toBe(PARENT);
    expect(cont.ctx.traceId).toBe(TRACE);
    expect(isSampled(cont.ctx)).toBe(false);
    expect(asked).toBe(0);
    const started = continueOrStart(`00-${TRACE}-${PARENT}-0`, ids, sample);
    expect(started.parent).toBeUndefined();
    expect(started.ctx.traceId).not.toBe(TRACE);
    expect(isSampled(started.ctx)).toBe(true);
    expect(asked).toBe(1);
  });
});

describe('ids', () => {
  it('formats bytes as lower-case hex', () => {
    expect(toHex(new Uint8Array([0, 1, 0x0f, 0x10, 0xab, 0xff]), 0, 6)).toBe('00010f10abff');
    expect(toHex(new Uint8Array([0, 1, 0x0f, 0x10, 0xab, 0xff]), 2, 3)).toBe('0f10ab');
  });

  it('takes ids from the pool, refilling it when used up', () => {
    let fills = 0;
    const fill = counter();
    const ids = new PooledTraceIds((b) => (fills++, fill(b)), { poolBytes: 32 });
    expect(ids.traceId()).toBe('0102030405060708090a0b0c0d0e0f10');
    expect(ids.spanId()).toBe('1112131415161718');
    expect(ids.spanId()).toBe('191a1b1c1d1e1f20');
    expect(fills).toBe(1);
    expect(ids.traceId()).toBe('2122232425262728292a2b2c2d2e2f30');
    expect(fills).toBe(2);
  });

  it('never gives an all-zero id (invalid in traceparent)', () => {
    let n = 0;
    // first fill all zero, then ones
    const ids = new PooledTraceIds((b) => b.fill(n++ === 0 ? 0 : 1), { poolBytes: 16 });
    expect(ids.spanId()).toBe('0101010101010101');
  });

  it('uses a native encoder when given one', () => {
    const ids = new PooledTraceIds(counter(), { poolBytes: 16, hex: (b, from, len) => `x${from}:${len}` });
    expect(ids.spanId()).toBe('x0:8');
  });

  it('gives distinct valid ids from crypto.getRandomValues', () => {
    const ids = new PooledTraceIds((b) => crypto.getRandomValues(b as Uint8Array<ArrayBuffer>));
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const t = ids.traceId();
      expect(t).toMatch(/^[0-9a-f]{32}$/);
      seen.add(t);
    }
    expect(seen.size).toBe(1000);
  });
});
