/**
 * The CONNECT target of an HBONE stream: `:authority` = `ip:port` (`[v6]:port` for IPv6), what
 * ztunnel's HboneAddress parses. A host name is accepted as a separate kind (ztunnel allows it for
 * double HBONE through east-west gateways); the caller decides whether to serve it. Pure.
 */
import { isIP } from 'node:net';

export type HboneTarget = { kind: 'ip'; ip: string; port: number; family: 4 | 6 } | { kind: 'hostname'; hostname: string; port: number };

export type ParsedAuthority = { ok: true; target: HboneTarget } | { ok: false; message: string };

const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;

export function parseAuthority(authority: string | undefined): ParsedAuthority {
  if (!authority) return { ok: false, message: 'CONNECT without :authority' };
  const bad = (why: string): ParsedAuthority => ({ ok: false, message: `malformed :authority ${JSON.stringify(authority.slice(0, 300))}: ${why}` });
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    if (end < 0 || authority[end + 1] !== ':') return bad('expected [ipv6]:port');
    host = authority.slice(1, end);
    portText = authority.slice(end + 2);
    if (isIP(host) !== 6) return bad(`${host} is not an IPv6 address`);
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon <= 0) return bad('expected ip:port');
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (host.includes(':')) return bad('an IPv6 address must be in brackets');
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return bad('the port must be a number');
  const port = Number(portText);
  if (port < 1 || port > 65535) return bad('the port must be within 1-65535');
  const family = isIP(host);
  if (family === 4 || family === 6) return { ok: true, target: { kind: 'ip', ip: host, port, family } };
  if (!HOSTNAME.test(host) || /^[0-9.]+$/.test(host)) return bad(`${host} is neither an IP address nor a host name`);
  return { ok: true, target: { kind: 'hostname', hostname: host.toLowerCase(), port } };
}

/** `ip:port`, brackets around IPv6. */
export function formatAuthority(ip: string, port: number): string {
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}
