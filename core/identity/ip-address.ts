/**
 * Textual IPv4/IPv6 addresses <-> the 4 or 16 bytes of a GeneralName iPAddress (RFC 5280 4.2.1.6).
 * Written here because core may not use a runtime's net module.
 */

export function ipToBytes(ip: string): Uint8Array | undefined {
  if (!ip.includes(':')) return ipv4ToBytes(ip);
  const zone = ip.indexOf('%');
  const text = zone >= 0 ? ip.slice(0, zone) : ip;
  let head = text;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    // IPv4-embedded form (::ffff:1.2.3.4): rewrite the dotted tail as two hex groups
    const v4 = ipv4ToBytes(text.slice(lastColon + 1));
    if (!v4) return undefined;
    const hi = ((v4[0]! << 8) | v4[1]!).toString(16);
    const lo = ((v4[2]! << 8) | v4[3]!).toString(16);
    head = `${text.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const parts = head.split('::');
  if (parts.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = parse(parts[0]!);
  const right = parts.length === 2 ? parse(parts[1]!) : [];
  if (!left || !right) return undefined;
  const groups = [...left, ...right];
  const fill = 8 - groups.length;
  if (parts.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...left, ...new Array<number>(parts.length === 2 ? fill : 0).fill(0), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  return bytes;
}

function ipv4ToBytes(ip: string): Uint8Array | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

/** Dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run compressed). */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) return `<${bytes.length}-byte address>`;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((bytes[i]! << 8) | bytes[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) (best = i), (bestLen = j - i);
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
