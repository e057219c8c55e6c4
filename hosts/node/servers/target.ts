/**
 * Destination names and literals as SOCKS5 and HTTP CONNECT clients send them, checked and put in
 * one form before the caller plans a route: IP literals normalized (an IPv4 sent as a name is an
 * IPv4), names lowercased without a trailing dot and limited to DNS characters (RFC 1123 labels,
 * `_` allowed as in SRV-style names). Anything else is refused before it reaches planning or DNS.
 */
import { formatIp, parseIp } from '../../../core/net/ip.ts';

export interface Target {
  host: string;
  port: number;
  /** True when `host` is a name the caller must resolve (mesh DNS model or system resolver). */
  isName: boolean;
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A checked target, or undefined when the host or port is not acceptable. */
export function makeTarget(rawHost: string, port: number): Target | undefined {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const ip = parseIp(rawHost);
  if (ip) return { host: formatIp(ip), port, isName: false };
  let name = rawHost.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0 || name.length > 253) return undefined;
  for (const label of name.split('.')) if (!LABEL.test(label)) return undefined;
  return { host: name, port, isName: true };
}

/** `::ffff:1.2.3.4` (how a dual-stack listener reports IPv4 peers) as `1.2.3.4`. */
export function plainAddress(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}
