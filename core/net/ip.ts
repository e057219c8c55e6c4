/**
 * IP literals and CIDRs: syntax checks for config validation, and the raw bytes (4 for IPv4, 16 for
 * IPv6) that the workload API and X.509 iPAddress SANs carry. Written by hand because core may not
 * import node:net. IPv4 octets with leading zeros are refused (Go's net.ParseIP and Kubernetes
 * refuse them too); IPv6 zones (`%eth0`) are refused: they mean nothing outside one host.
 */

/** Bytes of an IPv4 or IPv6 literal, or undefined when `text` is not one (hostnames, zones, CIDRs). */
export function parseIp(text: string): Uint8Array | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}


function parseIpv4(text: string): Uint8Array | undefined {
  // Four decimal octets, no leading zeros (ambiguous octal in some parsers), no signs.
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; // a final '.' closes the last octet
    if (c === 46) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return undefined;
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (text.includes('%')) return undefined;
  let head = text;
  let v4: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    v4 = parseIpv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  if (!left || !right) return undefined;
  const fill = 8 - left.length - right.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...left, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...right];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (v4) out.set(v4, 12);
  return out;
}

/** `10.0.0.0/8` or a bare address (a host: /32 or /128) as bytes and prefix length. */
export function parseCidr(text: string): { address: Uint8Array; length: number } | undefined {
  const slash = text.indexOf('/');
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!address) return undefined;
  const max = address.length * 8;
  if (slash < 0) return { address, length: max };
  const bits = text.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(bits) || Number(bits) > max) return undefined;
  return { address, length: Number(bits) };
}

/** Text form of raw address bytes (IPv6 without zero compression beyond the longest run). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) return '';
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export type IpFamily = 4 | 6;

export function ipFamily(text: string): IpFamily | undefined {
  const bytes = parseIp(text);
  return bytes ? (bytes.length === 4 ? 4 : 6) : undefined;
}

export function isIP(text: string): boolean {
  return parseIp(text) !== undefined;
}

export function isIPv4(text: string): boolean {
  return !text.includes(':') && parseIp(text) !== undefined;
}

export function isIPv6(text: string): boolean {
  return text.includes(':') && parseIp(text) !== undefined;
}

/** `10.0.0.0/8`, `2001:db8::/32`: a prefix is required and must fit the family. */
export function isCIDR(text: string): boolean {
  return text.includes('/') && parseCidr(text) !== undefined;
}

/** A single address or a CIDR block, as Istio's ipBlocks and ServiceEntry addresses accept. */
export function isIPOrCIDR(text: string): boolean {
  return parseCidr(text) !== undefined;
}
