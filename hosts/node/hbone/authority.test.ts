import { describe, expect, it } from 'vitest';
import { formatAuthority, parseAuthority } from './authority.ts';

describe('HBONE :authority', () => {
  it('parses ip:port, [v6]:port and host names', () => {
    expect(parseAuthority('10.0.0.1:8080')).toEqual({ ok: true, target: { kind: 'ip', ip: '10.0.0.1', port: 8080, family: 4 } });
    expect(parseAuthority('[fd00::1]:80')).toEqual({ ok: true, target: { kind: 'ip', ip: 'fd00::1', port: 80, family: 6 } });
    expect(parseAuthority('Echo.demo.svc.cluster.local:80')).toEqual({ ok: true, target: { kind: 'hostname', hostname: 'echo.demo.svc.cluster.local', port: 80 } });
  });
  it.each(['', '10.0.0.1', '10.0.0.1:', '10.0.0.1:0', '10.0.0.1:65536', '10.0.0.1:80x', 'fd00::1:80', '[fd00::1]80', '[10.0.0.1]:80', '300.1.1.1:80', 'a b:80', ':80'])('refuses %j', (a) => {
    const r = parseAuthority(a);
    expect(r.ok).toBe(false);
  });
  it('formats with brackets for IPv6', () => {
    expect(formatAuthority('::1', 15008)).toBe('[::1]:15008');
    expect(formatAuthority('127.0.0.1', 15008)).toBe('127.0.0.1:15008');
  });
});
