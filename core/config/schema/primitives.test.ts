import { describe, expect, it } from 'vitest';
import { isCIDR, isIP, isIPv4, isIPv6 } from '../../net/ip.ts';
import { parseGatewayDuration, parseGoDuration } from './duration.ts';
import { checkRegex, re2ToJs } from './regex.ts';

describe('net', () => {
  it('reads IPv4 and IPv6', () => {
    for (const ok of ['127.0.0.1', '0.0.0.0', '255.255.255.255']) expect(isIPv4(ok)).toBe(true);
    for (const bad of ['256.0.0.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', 'a.b.c.d', '']) expect(isIPv4(bad)).toBe(false);
    for (const ok of ['::', '::1', 'fd00::5', '2001:db8:0:0:0:0:0:1', '::ffff:10.0.0.1', '1::']) expect(isIPv6(ok)).toBe(true);
    for (const bad of [':::', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', '12345::', '1::2::3', '::ffff:10.0.0.256']) expect(isIPv6(bad)).toBe(false);
  });
  it('reads CIDR blocks', () => {
    expect(isCIDR('10.0.0.0/8')).toBe(true);
    expect(isCIDR('2001:db8::/32')).toBe(true);
    expect(isCIDR('10.0.0.0/33')).toBe(false);
    expect(isCIDR('10.0.0.0')).toBe(false);
    expect(isCIDR('::/129')).toBe(false);
    expect(isIP('10.0.0.0/8')).toBe(false);
  });
});

describe('durations', () => {
  it('reads Go durations in ms', () => {
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('300ms')).toBe(300);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('250us')).toBe(0.25);
    expect(parseGoDuration('0')).toBe(0);
    for (const bad of ['', '10', '1.5', 's', '1x', '1 s', '.s']) expect(parseGoDuration(bad)).toBeUndefined();
  });
  it('reads Gateway API durations', () => {
    expect(parseGatewayDuration('1m30s')).toBe(90_000);
    expect(parseGatewayDuration('500ms')).toBe(500);
    for (const bad of ['1.5s', '100000s', '1d', '1h1h1h1h1h']) expect(parseGatewayDuration(bad)).toBeUndefined();
  });
});

describe('RE2 regexes', () => {
  it('accepts RE2 syntax JavaScript spells differently', () => {
    expect(re2ToJs('(?i)^/API')).toEqual({ source: '^/API', flags: 'iu' });
    expect(checkRegex('(?P<id>[0-9]+)')).toBeUndefined();
    expect(checkRegex('/v1/.*')).toBeUndefined();
  });
  it('rejects what RE2 rejects', () => {
    expect(checkRegex('(?=x)')).toMatch(/lookahead/);
    expect(checkRegex('(a)\\1')).toMatch(/backreferences/);
    expect(checkRegex('[a-')).toMatch(/not a valid regular expression/);
  });
});
