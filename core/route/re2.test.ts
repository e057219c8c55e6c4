import { describe, expect, it } from 'vitest';
import { groupCount, RegexError, translateRe2, translateSubstitution } from './re2.ts';

const full = (p: string, ignoreCase = false) => translateRe2(p, { fullMatch: true, ignoreCase });

describe('RE2 -> JS RegExp (full match)', () => {
  const cases: Array<[pattern: string, matches: string[], rejects: string[]]> = [
    ['/api/v[0-9]+/.*', ['/api/v1/x', '/api/v22/'], ['/api/v/x', 'x/api/v1/x']],
    ['/foo', ['/foo'], ['/foo/', '/foox', 'a/foo']],
    ['a|b', ['a', 'b'], ['ab']], // alternation is wrapped before anchoring
    ['.*', ['', 'abc', 'a\rb'], ['a\nb']], // RE2 dot takes \r, not \n
    ['(?s).*', ['a\nb'], []],
    ['(?i)/Foo', ['/foo', '/FOO'], ['/fo']],
    ['\\s+', [' \t'], ['\v', '\u00a0']], // RE2 \s is [\t\n\f\r ]
    ['\\S+', ['ab'], ['a b']],
    ['\\Aab\\z', ['ab'], ['abc']],
    ['\\Qa.b*c\\E', ['a.b*c'], ['aXbbc']],
    ['(?P<ver>v\\d)/(x)', ['v1/x'], ['v/x']],
    ['[[:alpha:]]+[[:digit:]]', ['abc1'], ['abc']],
    ['[]a]+', [']a]'], ['b']],
    ['[^]a]', ['b'], [']', 'a']],
    ['[a-c-]+', ['a-c'], ['d']],
    ['\\-\\:\\@', ['-:@'], []], // escaped punctuation JS u mode rejects
    ['a{,2}', ['a{,2}'], ['aa']], // not a repetition in RE2: literal
    ['a{2}', ['aa'], ['a', 'aaa']],
    ['a{1,}', ['a', 'aaaa'], ['']],
    ['\\x41\\x{1F600}', ['A\u{1F600}'], []],
    ['\\101', ['A'], []], // octal
    ['\\pL+', ['héllo'], ['123']],
    ['\\p{Greek}+', ['αβγ'], ['abc']],
    ['\\PN', ['a'], ['1']],
    ['[\\d_]+', ['1_2'], ['a']],
    ['(?m)^a$\\nb', ['a\nb'], []],
    ['\\bfoo\\b.*', ['foo bar'], ['foobar']],
    ['😀+', ['😀😀'], ['😀\ud83d']],
  ];
  for (const [p, yes, no] of cases) {
    it(`${p}`, () => {
      const re = full(p);
      for (const s of yes) expect(re.test(s), `${p} should match ${JSON.stringify(s)}`).toBe(true);
      for (const s of no) expect(re.test(s), `${p} should not match ${JSON.stringify(s)}`).toBe(false);
    });
  }
  it('ignore_case adds the i flag', () => {
    expect(full('abc', true).test('ABC')).toBe(true);
  });
  it('is a plain search without fullMatch', () => {
    expect(translateRe2('b+', { fullMatch: false }).test('abbc')).toBe(true);
  });

  const refused: Array<[string, RegExp]> = [
    ['(?=a)', /lookaround/],
    ['a(?i)b', /inline flags/],
    ['(?U)a*', /ungreedy/],
    ['\\C', /any byte/],
    ['(a)\\1', /backreference/],
    ['[[:^alpha:]]', /negated POSIX/],
    ['a{1001}', /over 1000/],
    ['a++', /possessive/],
    ['*a', /missing argument/],
    ['(a', /missing \)/],
    ['a)', /unmatched/],
    ['[a', /missing \]/],
    ['\\p{Klingon}', /unknown Unicode class/],
    ['\\j', /unknown escape/],
    ['[z-a]', /no JavaScript equivalent/],
  ];
  for (const [p, msg] of refused) {
    it(`refuses ${p}`, () => {
      expect(() => full(p)).toThrow(RegexError);
      expect(() => full(p)).toThrow(msg);
    });
  }
});

describe('RE2 substitutions', () => {
  it('maps \\N to $N and escapes $', () => {
    const re = translateRe2('/v(\\d+)/(.*)', { fullMatch: false, global: true });
    expect(groupCount(re)).toBe(2);
    const sub = translateSubstitution('/\\2/version-\\1$x\\0', 2, 'p');
    expect('/v1/users'.replace(re, sub)).toBe('/users/version-1$x/v1/users');
    expect('/v1/users'.replace(translateRe2('(\\d)', { fullMatch: false, global: true }), translateSubstitution('\\10', 1, 'p'))).toBe('/v10/users');
  });
  it('refuses a group the pattern lacks', () => {
    expect(() => translateSubstitution('\\3', 2, 'p')).toThrow(/group \\3/);
  });
});
