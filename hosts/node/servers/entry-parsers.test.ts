import { describe, expect, test } from 'vitest';
import { parseAuthority, parseConnectHead, httpResponse } from './http-connect.ts';
import { parseGreeting, parseRequest, socksReply } from './socks5.ts';
import { makeTarget } from './target.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('SOCKS5 parsing', () => {
  test('every split point of a request says need-more until the last byte', () => {
    const req = Uint8Array.of(5, 1, 0, 3, 7, ...enc('a.b.svc'), 0x1f, 0x90);
    for (let i = 0; i < req.length; i++) expect(parseRequest(req.subarray(0, i)).kind, `at ${i}`).toBe('need-more');
    expect(parseRequest(req)).toEqual({ kind: 'ok', consumed: req.length, target: { host: 'a.b.svc', port: 8080, isName: true } });
    const greeting = Uint8Array.of(5, 2, 2, 0);
    for (let i = 0; i < greeting.length; i++) expect(parseGreeting(greeting.subarray(0, i)).kind).toBe('need-more');
    expect(parseGreeting(greeting)).toMatchObject({ kind: 'ok', consumed: 4 });
  });

  test('addresses: IPv4, IPv6, an IP sent as a name, bad names', () => {
    expect(parseRequest(Uint8Array.of(5, 1, 0, 1, 10, 0, 0, 1, 0, 80))).toMatchObject({ target: { host: '10.0.0.1', isName: false } });
    const v6 = Uint8Array.of(5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1, 0, 80);
    expect(parseRequest(v6)).toMatchObject({ target: { host: '2001:db8::1', isName: false } });
    expect(parseRequest(Uint8Array.of(5, 1, 0, 3, 8, ...enc('10.0.0.9'), 0, 80))).toMatchObject({ target: { host: '10.0.0.9', isName: false } });
    expect(parseRequest(Uint8Array.of(5, 1, 0, 3, 3, ...enc('a b'), 0, 80))).toMatchObject({ kind: 'bad', reply: 1 });
    expect(parseRequest(Uint8Array.of(5, 1, 0, 1, 10, 0, 0, 1, 0, 0))).toMatchObject({ kind: 'bad', reply: 1 }); // port 0
    expect(parseRequest(Uint8Array.of(5, 2, 0, 1))).toMatchObject({ kind: 'bad', reply: 7 });
    expect(parseRequest(Uint8Array.of(5, 1, 0, 2))).toMatchObject({ kind: 'bad', reply: 8 });
    expect([...socksReply(2)]).toEqual([5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
  });
});

describe('HTTP CONNECT parsing', () => {
  test('authority forms', () => {
    expect(parseAuthority('svc.ns:80')).toEqual({ host: 'svc.ns', port: 80, isName: true });
    expect(parseAuthority('[fd00::1]:443')).toEqual({ host: 'fd00::1', port: 443, isName: false });
    expect(parseAuthority('1.2.3.4:65535')).toEqual({ host: '1.2.3.4', port: 65535, isName: false });
    for (const bad of ['svc', 'svc:', ':80', 'svc:99999', 'fd00::1:80', '[fd00::1]80', 'a_b..c:80', 'x:8o']) expect(parseAuthority(bad), bad).toBeUndefined();
  });

  test('heads: need-more, connect with leftover, rejects', () => {
    expect(parseConnectHead(enc('CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n'))).toEqual({ kind: 'need-more' });
    const head = 'CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n';
    expect(parseConnectHead(enc(`${head}early`))).toEqual({ kind: 'connect', consumed: head.length, target: { host: 'a', port: 1, isName: true } });
    expect(parseConnectHead(enc('GET http://a/ HTTP/1.1\r\n\r\n'))).toMatchObject({ kind: 'reject', status: 405 });
    expect(parseConnectHead(enc('CONNECT a:1 HTTP/2\r\n\r\n'))).toMatchObject({ kind: 'reject', status: 400 });
    expect(parseConnectHead(Uint8Array.of(0x16, 3, 1))).toMatchObject({ kind: 'reject', status: 400 });
    expect(parseConnectHead(enc('CONNECT a:1 HTTP/1.1\r'))).toEqual({ kind: 'need-more' });
  });

  test('responses', () => {
    expect(httpResponse(200)).toBe('HTTP/1.1 200 Connection established\r\n\r\n');
    const r = httpResponse(403, 'denied\n', 'destination_ip_prohibited');
    expect(r).toContain('Proxy-Status: weft; error=destination_ip_prohibited\r\n');
    expect(r).toContain('Content-Length: 7\r\n');
    expect(r.endsWith('\r\n\r\ndenied\n')).toBe(true);
  });

  test('targets: names lowercased, trailing dot dropped', () => {
    expect(makeTarget('Reviews.Default.', 9080)).toEqual({ host: 'reviews.default', port: 9080, isName: true });
    expect(makeTarget('a'.repeat(64), 80)).toBeUndefined();
  });
});
