import { describe, expect, it } from 'vitest';
import { normalizePath } from './path-normalize.ts';

describe('normalizePath (RFC 3986 5.2.4, as Envoy normalize_path)', () => {
  it.each([
    ['/public/../admin', '/admin'],
    ['/a/./b', '/a/b'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/../../x', '/x'],
    ['/a/../b/../../c?x=/../y', '/c?x=/../y'],
    ['/..', '/'],
    ['/.', '/'],
  ])('%s -> %s', (input, out) => expect(normalizePath(input)).toBe(out));

  it('leaves normal paths alone without allocating a new one', () => {
    for (const p of ['/', '/a/b', '/a..b/c', '/a/.well-known/x', '/x?y=/../z', '/a/b...', '/a//b']) expect(normalizePath(p)).toBeUndefined();
  });

  it('merges slashes only when asked', () => {
    expect(normalizePath('/a//b///c', { mergeSlashes: true })).toBe('/a/b/c');
    expect(normalizePath('/a//b/../c', { mergeSlashes: true })).toBe('/a/c');
  });

  it('never touches an absolute-form or asterisk target', () => {
    expect(normalizePath('*')).toBeUndefined();
    expect(normalizePath('http://h/../x')).toBeUndefined();
  });
});
