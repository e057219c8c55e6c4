/**
 * SOCKS5 handshake parsing and replies (RFC 1928, https://www.rfc-editor.org/rfc/rfc1928): the
 * no-authentication method only, the CONNECT command only, address types IPv4, DOMAINNAME and IPv6.
 * Parsers work on the bytes received so far and say `need-more` until a whole message is there,
 * so a handshake split across TCP segments (or cut half way) is handled by the caller's buffer.
 */
import { formatIp } from '../../../core/net/ip.ts';
import { makeTarget, type Target } from './target.ts';

export const SOCKS_VERSION = 0x05;
const METHOD_NO_AUTH = 0x00;
const METHOD_NONE_ACCEPTABLE = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

/** Reply field values of RFC 1928 section 6. */
export const SocksReply = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

export type GreetingParse =
  | { kind: 'need-more' }
  | { kind: 'ok'; consumed: number; reply: Uint8Array }
  | { kind: 'bad'; reason: string; reply?: Uint8Array };

/** Version/method-selection message: VER NMETHODS METHODS... */
export function parseGreeting(buf: Uint8Array): GreetingParse {
  if (buf.length < 2) return { kind: 'need-more' };
  if (buf[0] !== SOCKS_VERSION) return { kind: 'bad', reason: `SOCKS version ${buf[0]} (only 5 is served)` };
  const n = buf[1]!;
  if (n === 0) return { kind: 'bad', reason: 'SOCKS5 greeting offers no method' };
  if (buf.length < 2 + n) return { kind: 'need-more' };
  for (let i = 0; i < n; i++) {
    if (buf[2 + i] === METHOD_NO_AUTH) return { kind: 'ok', consumed: 2 + n, reply: Uint8Array.of(SOCKS_VERSION, METHOD_NO_AUTH) };
  }
  return {
    kind: 'bad',
    reason: 'SOCKS5 client offers no "no authentication" method (the only one served)',
    reply: Uint8Array.of(SOCKS_VERSION, METHOD_NONE_ACCEPTABLE),
  };
}

export type RequestParse =
  | { kind: 'need-more' }
  | { kind: 'ok'; consumed: number; target: Target }
  | { kind: 'bad'; reason: string; reply: number };

/** Request: VER CMD RSV ATYP DST.ADDR DST.PORT. */
export function parseRequest(buf: Uint8Array): RequestParse {
  if (buf.length < 4) return { kind: 'need-more' };
  if (buf[0] !== SOCKS_VERSION) return { kind: 'bad', reason: `SOCKS request version ${buf[0]}`, reply: SocksReply.generalFailure };
  if (buf[1] !== CMD_CONNECT) {
    const what = buf[1] === 0x02 ? 'BIND' : buf[1] === 0x03 ? 'UDP ASSOCIATE' : `command ${buf[1]}`;
    return { kind: 'bad', reason: `SOCKS5 ${what} is not supported (CONNECT only)`, reply: SocksReply.commandNotSupported };
  }
  const atyp = buf[3];
  let addrEnd: number;
  let host: string;
  if (atyp === ATYP_IPV4) {
    addrEnd = 8;
    if (buf.length < addrEnd + 2) return { kind: 'need-more' };
    host = formatIp(buf.subarray(4, 8));
  } else if (atyp === ATYP_IPV6) {
    addrEnd = 20;
    if (buf.length < addrEnd + 2) return { kind: 'need-more' };
    host = formatIp(buf.subarray(4, 20));
  } else if (atyp === ATYP_DOMAIN) {
    if (buf.length < 5) return { kind: 'need-more' };
    addrEnd = 5 + buf[4]!;
    if (buf.length < addrEnd + 2) return { kind: 'need-more' };
    host = latin1(buf.subarray(5, addrEnd));
  } else {
    return { kind: 'bad', reason: `SOCKS5 address type ${atyp} is not supported`, reply: SocksReply.addressTypeNotSupported };
  }
  const port = (buf[addrEnd]! << 8) | buf[addrEnd + 1]!;
  const target = makeTarget(host, port);
  if (!target) {
    return { kind: 'bad', reason: `SOCKS5 destination ${JSON.stringify(host)}:${port} is not a valid host and port`, reply: SocksReply.generalFailure };
  }
  return { kind: 'ok', consumed: addrEnd + 2, target };
}

/** A reply with BND.ADDR 0.0.0.0:0: the tunnel's far end is not a local socket worth reporting. */
export function socksReply(code: number): Uint8Array {
  return Uint8Array.of(SOCKS_VERSION, code, 0x00, ATYP_IPV4, 0, 0, 0, 0, 0, 0);
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}
