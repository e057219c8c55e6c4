import { describe, expect, it } from 'vitest';
import { formatIp, parseCidr, parseIp } from './ip.ts';

describe('parseIp', () => {
  it('reads IPv4 and IPv6 literals', () => {
    expect(Array.from(parseIp('10.1.2.3')!)).toEqual([10, 1, 2, 3]);
    expect(Array.from(parseIp('::1')!)).toEqual([...new Array(15).fill(0), 1]);
    expect(Array.from(parseIp('fd00::10:1')!)).toEqual([0xfd, 0, ...new Array(10).fill(0), 0, 0x10, 0, 1]);
    expect(Array.from(parseIp('::ffff:10.0.0.1')!).slice(10)).toEqual([0xff, 0xff, 10, 0, 0, 1]);
  });
  it('refuses what is not an IP literal', () => {
    for (const bad of ['localhost', '10.0.0', '10.0.0.256', '01.2.3.4', '1::2::3', 'fe80::1%eth0', '10.0.0.0/8', '', '1:2:3:4:5:6:7:8:9']) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });
  it('round-trips through formatIp', () => {
    for (const ip of ['10.0.0.1', '::1', 'fd00::10:1', '2001:db8::', '1:2:3:4:5:6:7:8']) expect(formatIp(parseIp(ip)!)).toBe(ip);
  });
});

describe('parseCidr', () => {
  it('reads ranges and hosts', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: new Uint8Array([10, 0, 0, 0]), length: 8 });
    expect(parseCidr('10.0.0.7')?.length).toBe(32);
    expect(parseCidr('fd00::/64')?.length).toBe(64);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('nope/8')).toBeUndefined();
  });
});
