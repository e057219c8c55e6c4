import { describe, expect, test } from 'vitest';
import * as wire from './dns-wire.ts';

/** A query as dig would send it: one question, optional OPT. */
function query(name: string, qtype: number, opts: { id?: number; edns?: number; flags?: number } = {}): Uint8Array {
  const labels = name.split('.').filter(Boolean).flatMap((l) => [l.length, ...Buffer.from(l)]);
  const head = [(opts.id ?? 0x1234) >> 8, (opts.id ?? 0x1234) & 255, (opts.flags ?? 0x0100) >> 8, (opts.flags ?? 0x0100) & 255, 0, 1, 0, 0, 0, 0, 0, opts.edns ? 1 : 0];
  const q = [...labels, 0, qtype >> 8, qtype & 255, 0, 1];
  const opt = opts.edns ? [0, 0, 41, opts.edns >> 8, opts.edns & 255, 0, 0, 0, 0, 0, 4, 0, 10, 0, 0] : [];
  return Uint8Array.from([...head, ...q, ...opt]);
}

describe('dns wire', () => {
  test('parses a query: lowercased name, case kept on the wire, EDNS size', () => {
    const p = wire.parseQuery(query('Reviews.Default.svc.cluster.local', wire.QTYPE_AAAA, { edns: 1232 }));
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.query).toMatchObject({ id: 0x1234, opcode: 0, rd: true, name: 'reviews.default.svc.cluster.local', qtype: 28, qclass: 1, ednsSize: 1232 });
    expect(Buffer.from(p.query.nameWire).toString('latin1')).toContain('Reviews');
  });

  test('not queries are dropped; broken questions are FORMERR material', () => {
    const idOf = (b: Uint8Array) => {
      const p = wire.parseQuery(b);
      return p.ok ? 'ok' : p.id;
    };
    expect(idOf(Uint8Array.of(1, 2, 3))).toBeUndefined();
    expect(idOf(query('a.b', 1, { flags: 0x8100 }))).toBeUndefined();
    const cut = query('abc.example', 1).subarray(0, 16);
    expect(wire.parseQuery(cut)).toMatchObject({ ok: false, id: 0x1234 });
    // A compression pointer that points forward (or at itself) would loop: refused.
    const loop = Uint8Array.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(wire.parseQuery(loop).ok).toBe(false);
  });

  test('odd bytes in a label make the name unusable for mesh lookups (still forwardable)', () => {
    const q = query('a.b', 1);
    q[13] = 0x2e; // 'a' -> '.' inside a label
    const p = wire.parseQuery(q);
    expect(p.ok && p.query.name).toBeUndefined();
  });

  test('answers: header flags, pointer names, TTL, OPT; truncation when too big', () => {
    const p = wire.parseQuery(query('svc.mesh', wire.QTYPE_A, { edns: 4096 }));
    if (!p.ok) throw new Error('parse');
    const addrs = [Uint8Array.of(10, 0, 0, 1), Uint8Array.of(10, 0, 0, 2)];
    const r = wire.answerResponse(p.query, addrs, 30, 512);
    expect(r[0]).toBe(0x12);
    expect(r[2]! & 0x80).toBe(0x80); // QR
    expect(r[2]! & 0x04).toBe(0x04); // AA
    expect(r[2]! & 0x02).toBe(0); // not truncated
    expect((r[6]! << 8) | r[7]!).toBe(2);
    expect((r[10]! << 8) | r[11]!).toBe(1); // OPT
    const firstAnswer = 12 + p.query.nameWire.length + 4;
    expect([...r.subarray(firstAnswer, firstAnswer + 16)]).toEqual([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]);
    const many = Array.from({ length: 100 }, (_, i) => Uint8Array.of(10, 1, 0, i));
    const t = wire.answerResponse(p.query, many, 30, 512);
    expect(t[2]! & 0x02).toBe(0x02);
    expect((t[6]! << 8) | t[7]!).toBe(0);
    expect(t.length).toBeLessThan(512);
    expect(wire.rcodeOf(wire.errorResponse(p.query, wire.RCODE_SERVFAIL))).toBe(2);
    expect(wire.isResponseTo(r, 0x1234)).toBe(true);
    expect(wire.isResponseTo(r, 0x1235)).toBe(false);
  });

  test('random input never throws', () => {
    for (let i = 0; i < 5000; i++) {
      const b = new Uint8Array(Math.floor(Math.random() * 80));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(Math.random() * 256);
      if (i % 2 === 0 && b.length > 5) {
        b[2] = b[2]! & 0x7f; // half of them look like queries with one question
        b[4] = 0;
        b[5] = 1;
      }
      wire.parseQuery(b); // a throw fails the test
    }
  });
});
