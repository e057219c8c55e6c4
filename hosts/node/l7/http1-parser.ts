/**
 * A strict HTTP/1.1 head parser over Buffers (RFC 9112 sections 2-7), for the L7 engine's lean
 * path: no node:http objects, one string per header name and value, names lower-cased once.
 *
 * Strictness is the security boundary a proxy needs against request smuggling (RFC 9112 6.3,
 * 11.2): anything two parsers could read differently is refused, never repaired: Content-Length
 * with Transfer-Encoding, a repeated Content-Length, a Transfer-Encoding other than one final
 * `chunked`, obs-fold, bare LF or bare CR, whitespace before a colon, non-token names, control
 * bytes in values, invalid methods and versions. Refusals carry the status to answer with
 * (400; 414 request line too long; 431 header section too large; 501 unknown transfer coding;
 * 505 unsupported version).
 *
 * `HeadReader` gathers bytes until a head is complete (the usual case, a head in one read, parses
 * in place without copying); `parseHead` parses one complete head. The chunked body codec is in
 * `chunked.ts`.
 */

export type HeadErrorStatus = 400 | 414 | 417 | 431 | 501 | 502 | 505;

/** A refused head. `status` is what to answer (a response head refused by the proxy: 502). */
export class HeadError extends Error {
  constructor(
    readonly status: HeadErrorStatus,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface HeadLimits {
  /** Longest request line (method, target, version), bytes; longer: 414. */
  maxRequestLine: number;
  /** Largest head (request line and header section), bytes; larger: 431. */
  maxHeadBytes: number;
  /** Most header lines; more: 431. */
  maxHeaders: number;
}

export const DEFAULT_HEAD_LIMITS: HeadLimits = { maxRequestLine: 8 * 1024, maxHeadBytes: 64 * 1024, maxHeaders: 100 };

/** Body framing of a message (RFC 9112 6.3). */
export const enum Framing {
  None = 0,
  Length = 1,
  Chunked = 2,
  /** A response read until the connection closes. */
  UntilClose = 3,
}

/** One parsed head. Request fields are empty on responses and the other way round. */
export interface Http1Head {
  method: string;
  /** The request-target as received (origin-form path and query, absolute-form, `*`, authority-form). */
  target: string;
  status: number;
  reason: string;
  /** 0 or 1 (HTTP/1.0, HTTP/1.1). */
  minor: number;
  /** Flat `[name, value, name, value, ...]`, names lower-case, values trimmed, in received order. */
  headers: string[];
  framing: Framing;
  /** Content-Length when `framing` is Length, else -1. */
  contentLength: number;
  /** Whether the connection ends after this message (Connection: close, or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** The `Connection` header value, lower-case, '' when absent (its tokens name hop-by-hop headers). */
  connection: string;
  /** A request asking to switch protocols (`Connection: upgrade` and `Upgrade`); the Upgrade value. */
  upgrade: string;
  /** `Expect: 100-continue`. */
  expectContinue: boolean;
  /** The Host header (requests), '' when absent. */
  host: string;
  /** Bytes the head took, final CRLF included. */
  size: number;
}

// Character classes, one table lookup per byte.
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 2; // upper case: lower-cased in names
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
/** Bytes allowed in a field value: VCHAR, obs-text, SP, HTAB. */
const VALUE = new Uint8Array(256);
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1;
VALUE[0x09] = 1;
/** Bytes allowed in a request-target: visible ASCII (RFC 3986 plus what clients send unencoded). */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Buffer's own latin1 slice (no encoding lookup as in toString('latin1', ...)). */
type Latin1 = { latin1Slice(start: number, end: number): string };
function latin1(buf: Buffer, a: number, b: number): string {
  return (buf as unknown as Latin1).latin1Slice(a, b);
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;

/** Common methods as constants, so the usual request allocates no method string. */
const METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE'];

function methodOf(buf: Buffer, a: number, b: number): string {
  const n = b - a;
  for (let k = 0; k < METHODS.length; k++) {
    const m = METHODS[k]!;
    if (m.length !== n) continue;
    let i = 0;
    while (i < n && buf[a + i] === m.charCodeAt(i)) i++;
    if (i === n) return m;
  }
  return latin1(buf, a, b);
}

/** Common header names (lower-case) by length, so the usual header allocates only its value. */
const KNOWN_NAMES = new Map<number, string[]>();
for (const n of ['host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'content-type', 'content-length', 'connection', 'transfer-encoding', 'cache-control', 'date', 'server', 'upgrade', 'expect', 'keep-alive', 'te', 'trailer', 'cookie', 'authorization', 'x-forwarded-for', 'x-forwarded-proto', 'x-request-id', 'traceparent', 'origin', 'referer', 'last-modified', 'etag', 'vary', 'location', 'x-content-type-options']) {
  const list = KNOWN_NAMES.get(n.length) ?? [];
  list.push(n);
  KNOWN_NAMES.set(n.length, list);
}

function nameOf(buf: Buffer, a: number, b: number): string {
  const list = KNOWN_NAMES.get(b - a);
  if (list !== undefined) {
    for (let k = 0; k < list.length; k++) {
      const m = list[k]!;
      let i = 0;
      const n = m.length;
      while (i < n && (buf[a + i]! | 0x20) === m.charCodeAt(i)) i++;
      if (i === n) return m;
    }
  }
  return latin1(buf, a, b).toLowerCase();
}

function fail(status: HeadErrorStatus, code: string, message: string): never {
  throw new HeadError(status, code, message);
}

export function emptyHead(): Http1Head {
  return { method: '', target: '', status: 0, reason: '', minor: 1, headers: [], framing: Framing.None, contentLength: -1, close: false, connection: '', upgrade: '', expectContinue: false, host: '', size: 0 };
}

/**
 * Parses one complete head `buf[start, end)` (end is just past the blank line's LF, as HeadReader
 * finds it). Throws HeadError on anything not strictly valid. `request` picks the start line form;
 * `requestMethod` (responses) is the method it answers, for HEAD and CONNECT framing.
 */
export function parseHead(buf: Buffer, start: number, end: number, request: boolean, limits: HeadLimits, requestMethod = ''): Http1Head {
  const h = emptyHead();
  h.size = end - start;
  const errStatus: HeadErrorStatus = request ? 400 : 502;
  let lineEnd = buf.indexOf(LF, start);
  if (lineEnd < 0 || lineEnd >= end) fail(errStatus, 'incomplete', 'incomplete head');
  if (buf[lineEnd - 1] !== CR || lineEnd - 1 < start) fail(errStatus, 'bare-lf', 'line ended by LF without CR');
  if (request) parseRequestLine(buf, start, lineEnd - 1, h, limits);
  else parseStatusLine(buf, start, lineEnd - 1, h);

  let contentLengths = 0;
  let transferEncodings = 0;
  let te = '';
  let hosts = 0;
  let count = 0;
  let p = lineEnd + 1;
  const headers = h.headers;
  for (;;) {
    lineEnd = buf.indexOf(LF, p);
    if (lineEnd < 0 || lineEnd >= end) fail(errStatus, 'incomplete', 'incomplete head');
    const crPos = lineEnd - 1;
    if (crPos < p || buf[crPos] !== CR) fail(errStatus, 'bare-lf', 'line ended by LF without CR');
    if (crPos === p) {
      p = lineEnd + 1; // the blank line
      break;
    }
    if (++count > limits.maxHeaders) fail(request ? 431 : 502, 'too-many-headers', `more than ${limits.maxHeaders} header fields`);
    const c0 = buf[p]!;
    if (c0 === SP || c0 === HT) fail(errStatus, 'obs-fold', 'obsolete line folding');
    // name
    let i = p;
    while (i < crPos && TOKEN[buf[i]!] !== 0) i++;
    if (i === p) fail(errStatus, 'bad-name', 'empty or invalid header name');
    if (buf[i] !== 0x3a) fail(errStatus, buf[i] === SP || buf[i] === HT ? 'space-before-colon' : 'bad-name', 'invalid header name');
    const name = nameOf(buf, p, i);
    // value: skip OWS, check bytes, trim trailing OWS
    i++;
    while (i < crPos && (buf[i] === SP || buf[i] === HT)) i++;
    const vs = i;
    for (; i < crPos; i++) {
      if (VALUE[buf[i]!] === 0) fail(errStatus, buf[i] === CR ? 'bare-cr' : 'bad-value', 'control character in a header value');
    }
    let ve = crPos;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HT)) ve--;
    const value = ve > vs ? latin1(buf, vs, ve) : '';
    headers.push(name, value);
    p = lineEnd + 1;
    // framing and connection semantics
    switch (name) {
      case 'content-length':
        if (++contentLengths > 1) fail(errStatus, 'duplicate-content-length', 'more than one Content-Length');
        h.contentLength = parseLength(value, errStatus);
        break;
      case 'transfer-encoding':
        if (++transferEncodings > 1) fail(errStatus, 'duplicate-transfer-encoding', 'more than one Transfer-Encoding field');
        te = value;
        break;
      case 'connection':
        h.connection = h.connection ? `${h.connection}, ${value.toLowerCase()}` : value.toLowerCase();
        break;
      case 'host':
        if (++hosts > 1) fail(400, 'duplicate-host', 'more than one Host');
        h.host = value;
        break;
      case 'expect':
        if (request) {
          if (value.length === 12 && value.toLowerCase() === '100-continue') h.expectContinue = true;
          else fail(417, 'bad-expect', `unsupported expectation "${value}"`);
        }
        break;
      case 'upgrade':
        h.upgrade = value;
        break;
    }
  }
  if (p !== end) fail(errStatus, 'incomplete', 'trailing bytes in head');

  if (transferEncodings > 0) {
    if (contentLengths > 0) fail(errStatus, 'cl-and-te', 'Content-Length together with Transfer-Encoding');
    if (h.minor === 0) fail(errStatus, 'te-http10', 'Transfer-Encoding in an HTTP/1.0 message');
    checkTransferEncoding(te, request, errStatus);
    h.framing = Framing.Chunked;
  } else if (contentLengths > 0) {
    h.framing = h.contentLength > 0 ? Framing.Length : Framing.None;
  } else if (!request) {
    h.framing = Framing.UntilClose;
  }
  if (!request) {
    // RFC 9112 6.3: no body for HEAD answers, 1xx, 204, 304 and a 2xx to CONNECT, whatever the headers say
    const s = h.status;
    if (requestMethod === 'HEAD' || s < 200 || s === 204 || s === 304 || (requestMethod === 'CONNECT' && s < 300)) {
      h.framing = Framing.None;
    }
  } else {
    if (h.minor === 1 && hosts === 0) fail(400, 'no-host', 'HTTP/1.1 request without Host');
  }
  const conn = h.connection;
  if (conn !== '') {
    if (hasToken(conn, 'close')) h.close = true;
    else if (h.minor === 0 && !hasToken(conn, 'keep-alive')) h.close = true;
    if (h.upgrade === '' || !hasToken(conn, 'upgrade')) h.upgrade = request ? '' : h.upgrade;
  } else {
    if (h.minor === 0) h.close = true;
    if (request) h.upgrade = '';
  }
  if (!request && h.framing === Framing.UntilClose) h.close = true;
  return h;
}

function parseLength(value: string, errStatus: HeadErrorStatus): number {
  const n = value.length;
  if (n === 0 || n > 15) fail(errStatus, 'bad-content-length', 'invalid Content-Length');
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) fail(errStatus, 'bad-content-length', 'invalid Content-Length');
    v = v * 10 + c;
  }
  return v;
}

/** Only `chunked`, once, last, is accepted; other codings are not implemented (501). */
function checkTransferEncoding(te: string, request: boolean, errStatus: HeadErrorStatus): void {
  const lower = te.toLowerCase();
  if (lower === 'chunked') return;
  const parts = lower.split(',').map((s) => s.trim());
  const last = parts[parts.length - 1];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === 'chunked' && i !== parts.length - 1) fail(errStatus, 'chunked-not-last', 'chunked is not the final transfer coding');
    if (p !== 'chunked') {
      if (!isToken(p)) fail(errStatus, 'bad-transfer-encoding', 'invalid Transfer-Encoding');
      fail(request ? 501 : 502, 'unknown-transfer-coding', `transfer coding "${p}" is not implemented`);
    }
  }
  if (last !== 'chunked') fail(errStatus, 'chunked-not-last', 'chunked is not the final transfer coding');
}

/** Whether a comma-separated, lower-case list holds `token`. */
export function hasToken(list: string, token: string): boolean {
  let i = list.indexOf(token);
  while (i >= 0) {
    const before = i === 0 ? 0x2c : list.charCodeAt(i - 1);
    const j = i + token.length;
    const after = j >= list.length ? 0x2c : list.charCodeAt(j);
    if ((before === 0x2c || before === SP || before === HT) && (after === 0x2c || after === SP || after === HT)) return true;
    i = list.indexOf(token, j);
  }
  return false;
}

function parseRequestLine(buf: Buffer, a: number, b: number, h: Http1Head, limits: HeadLimits): void {
  if (b - a > limits.maxRequestLine) fail(414, 'line-too-long', 'request line too long');
  let i = a;
  while (i < b && TOKEN[buf[i]!] !== 0) i++;
  if (i === a || buf[i] !== SP) fail(400, 'bad-method', 'invalid method');
  h.method = methodOf(buf, a, i);
  const ts = ++i;
  while (i < b && TARGET[buf[i]!] !== 0) i++;
  if (i === ts || buf[i] !== SP) fail(400, 'bad-target', 'invalid request-target');
  h.target = latin1(buf, ts, i);
  const c0 = h.target.charCodeAt(0);
  if (h.method === 'CONNECT') {
    if (c0 === 0x2f) fail(400, 'bad-target', 'CONNECT needs an authority-form target');
  } else if (c0 !== 0x2f && !(c0 === 0x2a && h.target.length === 1 && h.method === 'OPTIONS') && !/^https?:\/\//i.test(h.target)) {
    fail(400, 'bad-target', 'request-target must be origin-form or absolute-form');
  }
  i++;
  h.minor = parseVersion(buf, i, b, 400);
}

function parseVersion(buf: Buffer, i: number, b: number, errStatus: HeadErrorStatus): number {
  // "HTTP/1.1" exactly
  if (b - i !== 8 || buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f || buf[i + 6] !== 0x2e) {
    fail(errStatus, 'bad-version', 'invalid HTTP version');
  }
  const major = buf[i + 5]! - 0x30;
  const minor = buf[i + 7]! - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) fail(errStatus, 'bad-version', 'invalid HTTP version');
  if (major !== 1 || minor > 1) fail(errStatus === 400 ? 505 : errStatus, 'unsupported-version', `HTTP/${major}.${minor} is not supported here`);
  return minor;
}

function parseStatusLine(buf: Buffer, a: number, b: number, h: Http1Head): void {
  // HTTP/1.1 SP 3DIGIT [SP reason]
  if (b - a < 12 || buf[a + 8] !== SP || (b > a + 12 && buf[a + 12] !== SP)) fail(502, 'bad-status-line', 'invalid status line');
  h.minor = parseVersion(buf, a, a + 8, 502);
  let s = 0;
  for (let i = a + 9; i < a + 12; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) fail(502, 'bad-status-line', 'invalid status code');
    s = s * 10 + d;
  }
  if (s < 100) fail(502, 'bad-status-line', 'invalid status code');
  h.status = s;
  for (let i = a + 13; i < b; i++) if (VALUE[buf[i]!] === 0) fail(502, 'bad-status-line', 'control character in the reason phrase');
  h.reason = b > a + 13 ? latin1(buf, a + 13, b) : '';
}

/**
 * Gathers the bytes of one head across reads. `push(chunk, offset)` returns the index in `chunk`
 * just past the head when it completes there (then `buffer()`/`start` say where the head's bytes
 * are), or -1 when more bytes are needed. Throws HeadError when limits are passed or a bare LF
 * shows up before the head ends (so a client cannot hold a slot with LF-only lines).
 */
export class HeadReader {
  #pending: Buffer | undefined;
  /** Where the head starts in `buffer()`. */
  start = 0;
  #buf: Buffer | undefined;
  /** Where the LF scan resumes in the pending bytes. */
  #scan = 0;

  constructor(
    readonly request: boolean,
    readonly limits: HeadLimits,
  ) {}

  /** Bytes of a head in progress. */
  get pendingBytes(): number {
    return this.#pending ? this.#pending.length : 0;
  }

  /** The Buffer holding the completed head; handed over once (the reader keeps no reference). */
  buffer(): Buffer {
    const b = this.#buf!;
    this.#buf = undefined;
    return b;
  }

  reset(): void {
    this.#pending = undefined;
    this.#buf = undefined;
    this.#scan = 0;
  }

  /**
   * Feeds bytes from `chunk[offset..]`. Returns the head's end index within `buffer()` (which is
   * then `chunk` itself if the whole head was in it, with `start` = offset) or -1.
   * When the head spanned reads, `buffer()` is a new Buffer holding the head and the rest of the
   * chunk, and the returned index is relative to it; `consumedOfChunk` says how much of `chunk` the
   * head used.
   */
  push(chunk: Buffer, offset: number): number {
    let buf: Buffer;
    let from: number;
    let start: number;
    if (this.#pending === undefined) {
      buf = chunk;
      start = offset;
      from = offset;
    } else {
      from = this.#pending.length;
      buf = Buffer.concat([this.#pending, offset === 0 ? chunk : chunk.subarray(offset)]);
      start = 0;
    }
    const maxHead = this.limits.maxHeadBytes;
    const maxLine = this.limits.maxRequestLine;
    const scanFrom = this.#pending === undefined ? from : this.#scan;
    let p = scanFrom;
    for (;;) {
      const lf = buf.indexOf(LF, p);
      if (lf < 0) break;
      if (lf === start || buf[lf - 1] !== CR) throw new HeadError(this.request ? 400 : 502, 'bare-lf', 'line ended by LF without CR');
      // a line of its own right after the previous LF is the blank line ending the head
      if (lf - 2 >= start && lf - 2 > start - 1 && buf[lf - 2] === LF) {
        const end = lf + 1;
        if (end - start > maxHead) throw new HeadError(this.request ? 431 : 502, 'head-too-large', 'header section too large');
        this.#buf = buf;
        this.start = start;
        this.#pending = undefined;
        this.#scan = 0;
        return end;
      }
      if (lf - 1 === start) {
        // CRLF before the request line: RFC 9112 2.2 allows ignoring one empty line; we refuse for strictness
        throw new HeadError(this.request ? 400 : 502, 'leading-crlf', 'empty line before the start line');
      }
      p = lf + 1;
    }
    const have = buf.length - start;
    if (have > maxHead) throw new HeadError(this.request ? 431 : 502, 'head-too-large', 'header section too large');
    if (this.request && have > maxLine && buf.indexOf(LF, start) < 0) {
      throw new HeadError(414, 'line-too-long', 'request line too long');
    }
    this.#pending = start === 0 && buf !== chunk ? buf : Buffer.from(buf.subarray(start));
    this.#scan = p - start;
    return -1;
  }
}
