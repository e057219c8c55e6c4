/**
 * Fuzz: random mutations of valid requests. The parser never throws anything but a HeadError, and
 * whatever it accepts, llhttp in strict mode (the parser node:http uses) accepts too and reads the
 * same way: method, target, version, header names (lower-cased) and values, body framing. Being
 * stricter than llhttp is allowed (a refusal); being looser or reading differently is a smuggling
 * hazard and fails the test.
 */
import { describe, expect, test } from 'vitest';
import { ChunkedDecoder } from './chunked.ts';
import { DEFAULT_HEAD_LIMITS, Framing, HeadError, HeadReader, parseHead } from './http1-parser.ts';

interface LlhttpHead {
  method: string;
  url: string;
  minor: number;
  headers: string[];
}

// llhttp through node's internal binding (the reference implementation)
type ParserCtor = {
  new (): {
    initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
    execute(b: Buffer): number | Error;
    finish(): unknown;
    close(): void;
    [k: number]: unknown;
  };
  REQUEST: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientNone?: number;
};
const binding = (process as unknown as { binding(n: string): { HTTPParser: ParserCtor; methods: string[] } }).binding('http_parser');
const { HTTPParser } = binding;
const METHODS: string[] = (binding as unknown as { methods: string[] }).methods;

function llhttp(buf: Buffer): LlhttpHead | 'error' | 'incomplete' {
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, 64 * 1024, HTTPParser.kLenientNone ?? 0);
  let head: LlhttpHead | undefined;
  let extra: string[] = [];
  p[HTTPParser.kOnHeaders] = (h: string[]) => {
    extra = extra.concat(h);
  };
  p[HTTPParser.kOnHeadersComplete] = (_maj: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined) => {
    head = { method: METHODS[method] ?? String(method), url: url ?? '', minor, headers: extra.concat(headers ?? []) };
    return 0;
  };
  p[HTTPParser.kOnBody] = () => 0;
  p[HTTPParser.kOnMessageComplete] = () => 0;
  p[HTTPParser.kOnExecute] = () => 0;
  const r = p.execute(buf);
  p.close();
  if (r instanceof Error) return head === undefined ? 'error' : head;
  return head ?? 'incomplete';
}

const BASES = [
  'GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: fuzz/1\r\nAccept: */*\r\n\r\n',
  'POST /api/v1/things HTTP/1.1\r\nHost: api.local:8080\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
  'PUT /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Trace: abc\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
  'GET / HTTP/1.0\r\nConnection: keep-alive\r\nCookie: a=b; c=d\r\n\r\n',
  'DELETE /x/y HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t0k3n\r\nContent-Length: 0\r\n\r\n',
];

const INTERESTING = [0x20, 0x0d, 0x0a, 0x3a, 0x09, 0x00, 0x2c, 0x30, 0x41, 0x61, 0x7f, 0x80, 0xff, 0x2d, 0x3b, 0x22];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function mutate(base: string, rnd: () => number): Buffer {
  const b = [...Buffer.from(base, 'latin1')];
  const n = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rnd() * b.length);
    const byte = rnd() < 0.7 ? INTERESTING[Math.floor(rnd() * INTERESTING.length)]! : Math.floor(rnd() * 256);
    switch (Math.floor(rnd() * 5)) {
      case 0:
        b[at] = byte;
        break;
      case 1:
        b.splice(at, 0, byte);
        break;
      case 2:
        b.splice(at, 1);
        break;
      case 3: {
        // duplicate a line
        const s = Buffer.from(b).toString('latin1');
        const lines = s.split('\r\n');
        const i = 1 + Math.floor(rnd() * Math.max(1, lines.length - 3));
        lines.splice(i, 0, lines[i] ?? '');
        b.splice(0, b.length, ...Buffer.from(lines.join('\r\n'), 'latin1'));
        break;
      }
      default: {
        // insert a smuggling-flavoured field
        const fields = ['Transfer-Encoding: chunked', 'Content-Length: 5', 'Transfer-Encoding: xchunked', 'Content-Length: 05', 'Transfer-Encoding : chunked', ' Transfer-Encoding: chunked', 'Content-Length: 1\r\nContent-Length: 1', 'Host: evil'];
        const s = Buffer.from(b).toString('latin1');
        const i = s.indexOf('\r\n') + 2;
        const f = fields[Math.floor(rnd() * fields.length)]!;
        b.splice(0, b.length, ...Buffer.from(`${s.slice(0, i)}${f}\r\n${s.slice(i)}`, 'latin1'));
      }
    }
  }
  return Buffer.from(b);
}

describe('parser fuzz against llhttp', () => {
  test('mutated requests: refused, or read exactly as llhttp reads them', () => {
    const rnd = rng(Number(process.env.WEFT_FUZZ_SEED ?? 0x5eed));
    let accepted = 0;
    let refusedCount = 0;
    for (let iter = 0; iter < 4000; iter++) {
      const input = mutate(BASES[iter % BASES.length]!, rnd);
      let ours: ReturnType<typeof parseHead> | 'refused' | 'incomplete';
      try {
        const r = new HeadReader(true, DEFAULT_HEAD_LIMITS);
        const end = r.push(input, 0);
        ours = end < 0 ? 'incomplete' : parseHead(r.buffer(), r.start, end, true, DEFAULT_HEAD_LIMITS);
      } catch (e) {
        if (!(e instanceof HeadError)) throw new Error(`non-HeadError thrown for ${JSON.stringify(input.toString('latin1'))}: ${e}`);
        ours = 'refused';
      }
      if (ours === 'refused' || ours === 'incomplete') {
        refusedCount++;
        continue;
      }
      // llhttp knows a fixed list of methods; RFC 9110 allows any token (extension methods), so an
      // unknown method is no disagreement about framing: not compared
      if (!METHODS.includes(ours.method)) continue;
      accepted++;
      const ref = llhttp(input);
      const show = JSON.stringify(input.toString('latin1'));
      if (ref === 'error' || ref === 'incomplete') throw new Error(`accepted what llhttp refuses (${ref}): ${show}`);
      expect(ours.method, show).toBe(ref.method);
      expect(ours.target, show).toBe(ref.url);
      expect(ours.minor, show).toBe(ref.minor);
      const refHeaders = ref.headers.map((v, i) => (i % 2 === 0 ? v.toLowerCase() : v));
      expect(ours.headers, show).toEqual(refHeaders);
      // framing agrees with what llhttp would do with these fields
      const te = refHeaders.filter((_v, i) => i % 2 === 0).includes('transfer-encoding');
      expect(ours.framing === Framing.Chunked, show).toBe(te);
    }
    // the mutations must exercise both sides
    expect(accepted).toBeGreaterThan(200);
    expect(refusedCount).toBeGreaterThan(200);
  });
});

/** llhttp's view of a whole chunked message: the body when it completes, else undefined. */
function llhttpBody(buf: Buffer): string | undefined {
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, 64 * 1024, HTTPParser.kLenientNone ?? 0);
  let body = '';
  let complete = false;
  p[HTTPParser.kOnHeaders] = () => 0;
  p[HTTPParser.kOnHeadersComplete] = () => 0;
  p[HTTPParser.kOnBody] = (b: Buffer) => {
    body += b.toString('latin1');
    return 0;
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    complete = true;
    return 0;
  };
  p[HTTPParser.kOnExecute] = () => 0;
  const r = p.execute(buf);
  p.close();
  return !(r instanceof Error) && complete ? body : undefined;
}

describe('chunked decoder fuzz against llhttp', () => {
  test('mutated chunked bodies: refused, incomplete, or decoded to the bytes llhttp decodes', () => {
    const rnd = rng(Number(process.env.WEFT_FUZZ_SEED ?? 0xc0ffee));
    const head = 'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n';
    const bodies = ['5\r\nhello\r\n0\r\n\r\n', '3;ext=1\r\nabc\r\na\r\n0123456789\r\n0\r\nX-T: v\r\n\r\n', '1\r\nx\r\n1\r\ny\r\n0\r\n\r\n', 'F\r\n0123456789abcde\r\n0\r\n\r\n'];
    let agreed = 0;
    let refusedCount = 0;
    for (let iter = 0; iter < 4000; iter++) {
      const body = mutateChunked(bodies[iter % bodies.length]!, rnd);
      let ours = '';
      let end = -1;
      try {
        const d = new ChunkedDecoder({ onChunkData: (b, s2, e) => (ours += b.toString('latin1', s2, e)) });
        end = d.feed(body, 0, body.length);
      } catch (e) {
        if (!(e instanceof HeadError)) throw e;
        refusedCount++;
        continue;
      }
      if (end < 0) continue;
      const ref = llhttpBody(Buffer.concat([Buffer.from(head, 'latin1'), body.subarray(0, end)]));
      const show = JSON.stringify(body.toString('latin1'));
      expect(ref, `llhttp did not complete what we accepted: ${show}`).toBeDefined();
      expect(ours, show).toBe(ref);
      agreed++;
    }
    expect(agreed).toBeGreaterThan(200);
    expect(refusedCount).toBeGreaterThan(200);
  });
});

function mutateChunked(base: string, rnd: () => number): Buffer {
  const b = [...Buffer.from(base, 'latin1')];
  const n = Math.floor(rnd() * 3);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rnd() * b.length);
    const byte = rnd() < 0.8 ? INTERESTING[Math.floor(rnd() * INTERESTING.length)]! : Math.floor(rnd() * 256);
    const op = Math.floor(rnd() * 3);
    if (op === 0) b[at] = byte;
    else if (op === 1) b.splice(at, 0, byte);
    else b.splice(at, 1);
  }
  return Buffer.from(b);
}
