import { describe, expect, it } from 'vitest';
import { EncodedResource } from '../../../core/xds/index.ts';
import { SentVersions } from './sent-versions.ts';

const res = (name: string, byte: number) => new EncodedResource('t', name, new Uint8Array([byte]));
const map = (...rs: EncodedResource[]) => new Map(rs.map((r) => [r.name, r]));

describe('SentVersions', () => {
  it('reads through a shared base and keeps its own differences', () => {
    const a = res('a', 1);
    const b = res('b', 2);
    const base = map(a, b);
    const sent = new SentVersions();
    sent.set('x', 'v0');
    sent.rebase(base);
    expect(sent.size).toBe(2);
    expect(sent.get('x')).toBeUndefined();
    expect(sent.get('a')).toBe(a.version);
    sent.set('a', 'other');
    sent.delete('b');
    sent.set('c', '');
    sent.delete('nope');
    expect(sent.size).toBe(2);
    expect(Object.fromEntries(sent)).toEqual({ a: 'other', c: '' });
    expect(sent.has('b')).toBe(false);
    sent.set('b', b.version);
    sent.set('a', a.version);
    expect(Object.fromEntries(sent)).toEqual({ a: a.version, b: b.version, c: '' });
    expect(sent.size).toBe(3);
    for (const name of sent.names()) sent.delete(name);
    expect(sent.size).toBe(0);
    expect([...sent]).toEqual([]);
    // The base is never written.
    expect(base.size).toBe(2);
  });
});
