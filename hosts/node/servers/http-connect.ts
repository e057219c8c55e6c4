/**
 * HTTP/1.1 CONNECT (RFC 9110 section 9.3.6, https://www.rfc-editor.org/rfc/rfc9110#CONNECT) on the
 * SOCKS port: the request head is read up to the blank line, only `CONNECT host:port` is served
 * (authority-form, RFC 9112 section 3.2.3); other methods get 405 with what to do instead. Header
 * fields are not needed and are not interpreted. Responses carry Proxy-Status (RFC 9209).
 */
import { makeTarget, type Target } from './target.ts';

/** Longest request head accepted; a client past it gets 431 and the connection closes. */
export const MAX_HEAD_BYTES = 16 * 1024;

export type HeadParse =
  | { kind: 'need-more' }
  | { kind: 'connect'; consumed: number; target: Target }
  | { kind: 'reject'; status: 400 | 405 | 431; message: string };

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.[01]$/;

const HOW_TO =
  'This port is a tunnel proxy: it accepts HTTP CONNECT and SOCKS5, not plain proxy requests.\n' +
  'curl:  curl -p -x http://HOST:PORT URL   (-p/--proxytunnel makes curl send CONNECT)\n' +
  '       curl --socks5-hostname HOST:PORT URL\n' +
  'env:   HTTPS_PROXY=http://HOST:PORT  or  ALL_PROXY=socks5h://HOST:PORT\n';

/** Parses the head received so far. `buf` starts at the first byte of the request. */
export function parseConnectHead(buf: Uint8Array): HeadParse {
  const lineEnd = indexOfCrlf(buf, 0);
  if (lineEnd < 0) {
    if (!printable(buf, buf.length)) return { kind: 'reject', status: 400, message: 'not an HTTP request\n' };
    if (buf.length > MAX_HEAD_BYTES) return { kind: 'reject', status: 431, message: 'request line too long\n' };
    return { kind: 'need-more' };
  }
  if (!printable(buf, lineEnd)) return { kind: 'reject', status: 400, message: 'not an HTTP request\n' };
  const m = REQUEST_LINE.exec(ascii(buf, 0, lineEnd));
  if (!m) return { kind: 'reject', status: 400, message: 'malformed request line: expected "CONNECT host:port HTTP/1.1"\n' };
  if (m[1] !== 'CONNECT') {
    return { kind: 'reject', status: 405, message: `${m[1]} is not served here.\n${HOW_TO}` };
  }
  const headEnd = indexOfHeadEnd(buf, lineEnd);
  if (headEnd < 0) {
    if (buf.length > MAX_HEAD_BYTES) return { kind: 'reject', status: 431, message: 'request head too large\n' };
    return { kind: 'need-more' };
  }
  if (headEnd > MAX_HEAD_BYTES) return { kind: 'reject', status: 431, message: 'request head too large\n' };
  const target = parseAuthority(m[2]!);
  if (!target) {
    return { kind: 'reject', status: 400, message: `CONNECT target ${JSON.stringify(m[2])} is not host:port (IPv6 in brackets)\n` };
  }
  return { kind: 'connect', consumed: headEnd, target };
}

/** `host:port` or `[v6]:port` (authority-form); undefined when malformed. */
export function parseAuthority(text: string): Target | undefined {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return undefined;
    host = text.slice(1, close);
    if (!host.includes(':')) return undefined;
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0 || text.indexOf(':') !== colon) return undefined;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  return makeTarget(host, Number(portText));
}

const REASONS: Record<number, string> = {
  200: 'Connection established',
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** A complete response head (and text body) to write before closing, or the 200 for a tunnel. */
export function httpResponse(status: number, body = '', proxyStatus?: string): string {
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n`;
  if (proxyStatus) head += `Proxy-Status: weft; error=${proxyStatus}\r\n`;
  if (status === 405) head += 'Allow: CONNECT\r\n';
  if (status === 200) return `${head}\r\n`;
  const len = new TextEncoder().encode(body).length;
  return `${head}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${len}\r\nConnection: close\r\n\r\n${body}`;
}

function indexOfCrlf(buf: Uint8Array, from: number): number {
  for (let i = from; i + 1 < buf.length; i++) if (buf[i] === 13 && buf[i + 1] === 10) return i;
  return -1;
}

/** Index just past the CRLFCRLF that ends the head, searching from the request line's CRLF. */
function indexOfHeadEnd(buf: Uint8Array, from: number): number {
  for (let i = from; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i + 4;
  }
  return -1;
}

/** Visible ASCII and spaces only (a request line never holds control bytes or 8-bit bytes). */
function printable(buf: Uint8Array, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x20 || c > 0x7e) return c === 13 && i === end - 1;
  }
  return true;
}

function ascii(buf: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}
