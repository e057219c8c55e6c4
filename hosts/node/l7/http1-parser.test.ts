import { describe, expect, test } from 'vitest';
import { ChunkedDecoder } from './chunked.ts';
import { DEFAULT_HEAD_LIMITS, Framing, HeadError, HeadReader, parseHead, type HeadLimits, type Http1Head } from './http1-parser.ts';

function req(text: string, limits: HeadLimits = DEFAULT_HEAD_LIMITS): Http1Head {
  const buf = Buffer.from(text, 'latin1');
  const r = new HeadReader(true, limits);
  const end = r.push(buf, 0);
  if (end < 0) throw new Error('incomplete');
  return parseHead(r.buffer(), r.start, end, true, limits);
}

function res(text: string, method = 'GET'): Http1Head {
  const buf = Buffer.from(text, 'latin1');
  const r = new HeadReader(false, DEFAULT_HEAD_LIMITS);
  const end = r.push(buf, 0);
  if (end < 0) throw new Error('incomplete');
  return parseHead(r.buffer(), r.start, end, false, DEFAULT_HEAD_LIMITS, method);
}

function refused(text: string, limits?: HeadLimits): { status: number; code: string } {
  try {
    req(text, limits);
  } catch (e) {
    if (e instanceof HeadError) return { status: e.status, code: e.code };
    throw e;
  }
  return { status: 0, code: 'accepted' };
}

describe('request heads', () => {
  test('a simple GET', () => {
    const h = req('GET /a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t\r\nX-Thing:  v  \r\n\r\n');
    expect(h.method).toBe('GET');
    expect(h.target).toBe('/a/b?c=d');
    expect(h.minor).toBe(1);
    expect(h.host).toBe('example.com:8080');
    expect(h.headers).toEqual(['host', 'example.com:8080', 'user-agent', 't', 'x-thing', 'v']);
    expect(h.framing).toBe(Framing.None);
    expect(h.close).toBe(false);
  });

  test('framing: content-length, chunked, close, HTTP/1.0 keep-alive, upgrade, expect', () => {
    expect(req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n')).toMatchObject({ framing: Framing.Length, contentLength: 12 });
    expect(req('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n')).toMatchObject({ framing: Framing.Chunked });
    expect(req('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n').close).toBe(true);
    expect(req('GET / HTTP/1.0\r\n\r\n').close).toBe(true);
    expect(req('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').close).toBe(false);
    expect(req('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n').upgrade).toBe('websocket');
    expect(req('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').upgrade).toBe('');
    expect(req('PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n').expectContinue).toBe(true);
    expect(req('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n').target).toBe('*');
    expect(req('GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n').target).toBe('http://a/b');
    expect(req('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n').target).toBe('a:443');
    expect(req('PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n').method).toBe('PURGE');
  });

  test('a head split across reads, byte by byte', () => {
    const text = Buffer.from('POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET');
    const r = new HeadReader(true, DEFAULT_HEAD_LIMITS);
    let end = -1;
    let i = 0;
    for (; i < text.length && end < 0; i++) end = r.push(text.subarray(i, i + 1), 0);
    expect(end).toBeGreaterThan(0);
    const h = parseHead(r.buffer(), r.start, end, true, DEFAULT_HEAD_LIMITS);
    expect(h.contentLength).toBe(3);
    expect(i).toBe(text.indexOf('abc'));
  });

  const smuggling: [string, string, number, string][] = [
    ['CL + TE', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'cl-and-te'],
    ['TE + CL', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n', 400, 'cl-and-te'],
    ['duplicate CL (same)', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n', 400, 'duplicate-content-length'],
    ['conflicting CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n', 400, 'duplicate-content-length'],
    ['CL list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n', 400, 'bad-content-length'],
    ['CL sign', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n', 400, 'bad-content-length'],
    ['CL hex', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n', 400, 'bad-content-length'],
    ['CL empty', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n', 400, 'bad-content-length'],
    ['TE not final chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400, 'chunked-not-last'],
    ['TE unknown coding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501, 'unknown-transfer-coding'],
    ['TE identity', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n', 501, 'unknown-transfer-coding'],
    ['TE chunked twice', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', 400, 'chunked-not-last'],
    ['TE twice', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'duplicate-transfer-encoding'],
    ['TE garbage', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "chunked"\r\n\r\n', 400, 'bad-transfer-encoding'],
    ['TE in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'te-http10'],
    ['TE with space before colon', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n', 400, 'space-before-colon'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n', 400, 'obs-fold'],
    ['obs-fold tab', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n', 400, 'obs-fold'],
    ['bare LF in header', 'GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n', 400, 'bare-lf'],
    ['bare LF head end', 'GET / HTTP/1.1\nHost: a\n\n', 400, 'bare-lf'],
    ['bare CR in value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 400, 'bare-cr'],
    ['NUL in value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\u0000b\r\n\r\n', 400, 'bad-value'],
    ['non-token name', 'GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n', 400, 'bad-name'],
    ['empty name', 'GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n', 400, 'bad-name'],
    ['no colon', 'GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n', 400, 'bad-name'],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'duplicate-host'],
    ['no Host', 'GET / HTTP/1.1\r\nX: y\r\n\r\n', 400, 'no-host'],
    ['bad method', 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-method'],
    ['two spaces', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
    ['space in target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-version'],
    ['no version', 'GET /\r\nHost: a\r\n\r\n', 400, 'bad-target'],
    ['bad version', 'GET / HTTX/1.1\r\nHost: a\r\n\r\n', 400, 'bad-version'],
    ['lower-case version', 'GET / http/1.1\r\nHost: a\r\n\r\n', 400, 'bad-version'],
    ['HTTP/2.0 in a request line', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'unsupported-version'],
    ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', 505, 'unsupported-version'],
    ['relative target', 'GET a/b HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bad-target'],
    ['leading CRLF', '\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'leading-crlf'],
    ['unknown expectation', 'GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n', 417, 'bad-expect'],
  ];
  test.each(smuggling)('refuses %s', (_name, text, status, code) => {
    expect(refused(text)).toEqual({ status, code });
  });

  test('limits: 414 for a long request line, 431 for a large or crowded header section', () => {
    const limits = { maxRequestLine: 100, maxHeadBytes: 400, maxHeaders: 5 };
    expect(refused(`GET /${'a'.repeat(200)} HTTP/1.1\r\nHost: a\r\n\r\n`, limits).status).toBe(414);
    expect(refused(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'a'.repeat(500)}\r\n\r\n`, limits).status).toBe(431);
    expect(refused(`GET / HTTP/1.1\r\nHost: a\r\n${'X: y\r\n'.repeat(6)}\r\n`, limits).status).toBe(431);
    // incremental: the reader refuses as soon as the limit is passed, before the head ends
    const r = new HeadReader(true, limits);
    expect(r.push(Buffer.from(`GET /${'a'.repeat(50)}`), 0)).toBe(-1);
    expect(() => r.push(Buffer.from('a'.repeat(100)), 0)).toThrow(expect.objectContaining({ status: 414 }));
    const r2 = new HeadReader(true, limits);
    expect(r2.push(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n'), 0)).toBe(-1);
    expect(() => r2.push(Buffer.from(`X: ${'b'.repeat(500)}`), 0)).toThrow(expect.objectContaining({ status: 431 }));
  });
});

describe('response heads', () => {
  test('status lines and framing', () => {
    expect(res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n')).toMatchObject({ status: 200, reason: 'OK', framing: Framing.Length, contentLength: 5 });
    expect(res('HTTP/1.1 204\r\n\r\n')).toMatchObject({ status: 204, reason: '', framing: Framing.None });
    expect(res('HTTP/1.1 200 OK\r\n\r\n')).toMatchObject({ framing: Framing.UntilClose, close: true });
    expect(res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'HEAD')).toMatchObject({ framing: Framing.None, contentLength: 5 });
    expect(res('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n')).toMatchObject({ framing: Framing.None });
    expect(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')).toMatchObject({ framing: Framing.Chunked });
    expect(res('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')).toMatchObject({ status: 101, upgrade: 'websocket' });
    expect(res('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n').close).toBe(true);
  });
  test('refusals are 502', () => {
    for (const t of ['HTTP/1.1 2000 OK\r\n\r\n', 'HTTP/1.1 20 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'HTTP/2 200 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\nX : y\r\n\r\n']) {
      expect(() => res(t)).toThrow(expect.objectContaining({ status: 502 }));
    }
  });
});

describe('chunked bodies', () => {
  function decode(...parts: string[]): { data: string; trailers: string[] | undefined; end: number; rest: string } {
    let data = '';
    let trailers: string[] | undefined;
    const d = new ChunkedDecoder({ onChunkData: (b, s, e) => (data += b.toString('latin1', s, e)), onTrailers: (t) => (trailers = t) });
    let end = -1;
    let rest = '';
    for (const p of parts) {
      const b = Buffer.from(p, 'latin1');
      end = d.feed(b, 0, b.length);
      if (end >= 0) {
        rest = b.toString('latin1', end);
        break;
      }
    }
    return { data, trailers, end, rest };
  }

  test('data, extensions, trailers, split anywhere, the next message after', () => {
    expect(decode('5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\nGET')).toMatchObject({ data: 'hello world', rest: 'GET' });
    const whole = 'a\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n';
    for (let cut = 1; cut < whole.length; cut++) {
      const r = decode(whole.slice(0, cut), whole.slice(cut));
      expect(r.data).toBe('0123456789');
      expect(r.trailers).toEqual(['x-sum', '1']);
    }
  });

  test.each([
    ['no digits', 'x\r\n'],
    ['space after size', '5 \r\nhello\r\n0\r\n\r\n'],
    ['negative', '-5\r\n'],
    ['too many digits', '10000000000000\r\n'],
    ['bare LF after size', '5\nhello\r\n0\r\n\r\n'],
    ['data longer than size', '3\r\nhello\r\n0\r\n\r\n'],
    ['missing CRLF after data', '5\r\nhello0\r\n\r\n'],
    ['bare LF at the end', '0\r\n\n'],
    ['control byte in extension', '5;\u0001\r\nhello\r\n0\r\n\r\n'],
    ['obs-fold in trailers', '0\r\nX: a\r\n b\r\n\r\n'],
    ['bad trailer', '0\r\nX y\r\n\r\n'],
  ])('refuses %s', (_n, text) => {
    expect(() => decode(text)).toThrow(HeadError);
  });
});
