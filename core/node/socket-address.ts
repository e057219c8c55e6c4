/**
 * `ip:port` text as planners take and return it: `10.0.0.1:80`, `[fd00::1]:80`. IPs come out
 * canonical, IPv4-mapped IPv6 (`::ffff:10.0.0.1`, what dual-stack sockets report) as IPv4.
 */
import { formatIp } from '../net/ip.ts';
import { ipBytes } from '../policy/match.ts';

export interface SocketAddress {
  ip: string;
  port: number;
}

export function parseSocketAddress(text: string): SocketAddress | undefined {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']:');
    if (end < 0) return undefined;
    host = text.slice(1, end);
    portText = text.slice(end + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0 || text.indexOf(':') !== colon) return undefined;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return undefined;
  const ip = canonicalIp(host);
  return ip === undefined ? undefined : { ip, port: Number(portText) };
}

/** Canonical text of an IP literal, or undefined. */
export function canonicalIp(text: string): string | undefined {
  const b = ipBytes(text);
  return b ? formatIp(b) : undefined;
}

export function formatSocketAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
