/**
 * IP address and CIDR syntax checks (IPv4 dotted quad, IPv6 with `::` and an embedded IPv4 tail),
 * written out by hand because core/ may not import node:net. Used for Service clusterIPs,
 * ServiceEntry addresses, AuthorizationPolicy ipBlocks and EndpointSlice addresses.
 */

export type IpFamily = 4 | 6;

/** Four octets, no leading zeros (Go's net.ParseIP rejects them since 1.17, and so does Kubernetes). */
export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  return parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45 || s.includes('%')) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = (part: string): string[] | null => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return false;
  const all = [...head, ...tail];
  let words = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    // An IPv4 tail (::ffff:1.2.3.4) counts as two 16-bit groups and must come last.
    if (i === all.length - 1 && g.includes('.')) {
      if (!isIPv4(g)) return false;
      words += 2;
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
    words += 1;
  }
  return halves.length === 2 ? words < 8 : words === 8;
}

export function ipFamily(s: string): IpFamily | undefined {
  if (isIPv4(s)) return 4;
  if (isIPv6(s)) return 6;
  return undefined;
}

export function isIP(s: string): boolean {
  return ipFamily(s) !== undefined;
}

/** `10.0.0.0/8`, `2001:db8::/32`; the prefix must fit the family. */
export function isCIDR(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const family = ipFamily(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  if (!family || !/^(0|[1-9][0-9]{0,2})$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** A single address or a CIDR block, as Istio's ipBlocks and ServiceEntry addresses accept. */
export function isIPOrCIDR(s: string): boolean {
  return isIP(s) || isCIDR(s);
}
