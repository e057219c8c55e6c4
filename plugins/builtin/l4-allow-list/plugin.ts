/**
 * l4-allow-list: lets a connection in only when its source is on a list (a principal, the
 * principal's namespace, or a CIDR of the source address) and, when `ports` is given, its
 * destination port is listed. It runs in the node proxy after the mesh's own L4 authorization, so
 * it can only narrow what AuthorizationPolicy allows.
 *
 * Lists are compiled on the first call: CIDRs to numbers and masks, ports to a set, patterns to
 * their fixed part. A check then parses only the connection's source address.
 */
import { config, decision, defineL4Policy, log, type Connection, type Decision } from '../../sdk/index.ts';

/**
 * A config error: logged (the host shows the guest's log, while a thrown error reaches it only as a
 * trap), then thrown, so the load fails or the call fails by the failStrategy.
 */
function configError(message: string): never {
  log.error(message);
  throw new Error(message);
}

interface AllowListConfig {
  /** SPIFFE ids: exact, `prefix*`, `*suffix`, or `*` (any identity, not plaintext) */
  principals?: string[];
  /** the namespace in the source's SPIFFE id (`.../ns/<namespace>/sa/...`), same patterns */
  namespaces?: string[];
  /** source address ranges, IPv4 (`10.0.0.0/8`) or IPv6 (`fd00::/8`); a bare address is one host */
  cidrs?: string[];
  /** destination ports; when given, a connection to another port is denied whatever its source */
  ports?: number[];
}

/** exact / prefix / suffix / any-non-empty match of one string */
interface Pattern {
  kind: 0 | 1 | 2 | 3;
  text: string;
}
const EXACT = 0;
const PREFIX = 1;
const SUFFIX = 2;
const ANY = 3;

/** an address range: four 32-bit words (IPv4 in the last, as ::ffff:a.b.c.d), masked */
interface Cidr {
  v4: boolean;
  words: Uint32Array;
  masks: Uint32Array;
}

interface Compiled {
  principals: Pattern[];
  namespaces: Pattern[];
  cidrs: Cidr[];
  ports: Set<number> | undefined;
  /** no source list given: every source passes */
  anySource: boolean;
  /** what the lists were, for deny reasons */
  sourceLists: string;
}

function pattern(p: string): Pattern {
  if (p === '*') return { kind: ANY, text: '' };
  if (p.endsWith('*')) return { kind: PREFIX, text: p.slice(0, -1) };
  if (p.startsWith('*')) return { kind: SUFFIX, text: p.slice(1) };
  return { kind: EXACT, text: p };
}

function matches(list: Pattern[], s: string): boolean {
  if (s === '') return false;
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    if (p.kind === EXACT ? s === p.text : p.kind === PREFIX ? s.startsWith(p.text) : p.kind === SUFFIX ? s.endsWith(p.text) : true) return true;
  }
  return false;
}

// ---- addresses ----

function parseV4(s: string, start: number, end: number): number | undefined {
  let value = 0;
  let parts = 0;
  let i = start;
  while (i < end) {
    let n = 0;
    let digits = 0;
    while (i < end && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) {
      n = n * 10 + s.charCodeAt(i) - 48;
      i++;
      digits++;
    }
    if (digits === 0 || digits > 3 || n > 255) return undefined;
    value = value * 256 + n;
    parts++;
    if (i < end) {
      if (s.charCodeAt(i) !== 46 /* . */ || parts === 4) return undefined;
      i++;
      if (i === end) return undefined;
    }
  }
  return parts === 4 ? value : undefined;
}

/** an address as 4 words (IPv4 mapped to ::ffff:a.b.c.d); brackets and a zone (%eth0) are ignored */
function parseAddress(input: string, out: Uint32Array): boolean {
  let start = 0;
  let end = input.length;
  if (input.charCodeAt(0) === 91 /* [ */) {
    start = 1;
    end = input.indexOf(']');
    if (end < 0) return false;
  }
  const zone = input.indexOf('%', start);
  if (zone >= 0 && zone < end) end = zone;
  if (input.indexOf(':', start) < 0 || input.indexOf(':', start) >= end) {
    const v4 = parseV4(input, start, end);
    if (v4 === undefined) return false;
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = v4;
    return true;
  }
  // IPv6: up to 8 groups, one `::`, an IPv4 tail allowed
  const groups: number[] = [];
  let gap = -1;
  let i = start;
  if (input.charCodeAt(i) === 58 && input.charCodeAt(i + 1) === 58) {
    gap = 0;
    i += 2;
  }
  while (i < end) {
    const next = input.indexOf(':', i);
    const stop = next < 0 || next > end ? end : next;
    if (stop === end && input.indexOf('.', i) >= 0 && input.indexOf('.', i) < end) {
      const v4 = parseV4(input, i, end);
      if (v4 === undefined) return false;
      groups.push(v4 >>> 16, v4 & 0xffff);
      i = end;
      break;
    }
    if (stop === i || stop - i > 4) return false;
    const g = parseInt(input.slice(i, stop), 16);
    if (Number.isNaN(g)) return false;
    groups.push(g);
    i = stop + 1;
    if (stop < end && input.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = groups.length;
      i++;
    } else if (stop < end && i >= end) return false; // trailing single ':'
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return false;
  const full = new Array<number>(8).fill(0);
  const tail = gap < 0 ? 0 : groups.length - gap;
  for (let k = 0; k < (gap < 0 ? 8 : gap); k++) full[k] = groups[k]!;
  for (let k = 0; k < tail; k++) full[8 - tail + k] = groups[gap + k]!;
  for (let w = 0; w < 4; w++) out[w] = ((full[2 * w]! << 16) | full[2 * w + 1]!) >>> 0;
  return true;
}

function cidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const words = new Uint32Array(4);
  if (!parseAddress(addr, words)) configError(`l4-allow-list: "${text}" is not a CIDR`);
  const v4 = addr.indexOf(':') < 0;
  const max = v4 ? 32 : 128;
  const bits = slash < 0 ? max : Number(text.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > max) configError(`l4-allow-list: "${text}" has a bad prefix length`);
  // an IPv4 range lives in the last word, behind the fixed ::ffff: prefix
  let prefix = v4 ? 96 + bits : bits;
  const masks = new Uint32Array(4);
  for (let w = 0; w < 4; w++) {
    const take = prefix >= 32 ? 32 : prefix > 0 ? prefix : 0;
    masks[w] = take === 0 ? 0 : take === 32 ? 0xffffffff : (0xffffffff << (32 - take)) >>> 0;
    prefix -= take;
    words[w] = (words[w]! & masks[w]!) >>> 0;
  }
  return { v4, words, masks };
}

function inCidr(c: Cidr, a: Uint32Array): boolean {
  for (let w = 0; w < 4; w++) if (((a[w]! & c.masks[w]!) >>> 0) !== c.words[w]) return false;
  return true;
}

/** `spiffe://td/ns/<namespace>/sa/<sa>` -> namespace; '' when the id has none */
function namespaceOf(principal: string): string {
  const at = principal.indexOf('/ns/');
  if (at < 0) return '';
  const end = principal.indexOf('/', at + 4);
  return principal.slice(at + 4, end < 0 ? principal.length : end);
}

// ---- the policy ----

let compiled: Compiled | undefined;
const scratch = new Uint32Array(4);

function load(): Compiled {
  const c = config<AllowListConfig>();
  const principals = (c.principals ?? []).map(String).map(pattern);
  const namespaces = (c.namespaces ?? []).map(String).map(pattern);
  const cidrs = (c.cidrs ?? []).map(String).map(cidr);
  const names: string[] = [];
  if (principals.length) names.push('principals');
  if (namespaces.length) names.push('namespaces');
  if (cidrs.length) names.push('cidrs');
  for (const p of c.ports ?? []) if (!Number.isInteger(p) || p < 1 || p > 65535) configError(`l4-allow-list: ${p} is not a port`);
  return {
    principals,
    namespaces,
    cidrs,
    ports: c.ports?.length ? new Set(c.ports) : undefined,
    anySource: names.length === 0,
    sourceLists: names.join(', '),
  };
}

function sourceAllowed(c: Compiled, conn: Connection): boolean {
  if (c.anySource) return true;
  const p = conn.sourcePrincipal;
  if (c.principals.length && matches(c.principals, p)) return true;
  if (c.namespaces.length && p && matches(c.namespaces, namespaceOf(p))) return true;
  if (c.cidrs.length && parseAddress(conn.sourceAddress, scratch)) {
    for (let i = 0; i < c.cidrs.length; i++) if (inCidr(c.cidrs[i]!, scratch)) return true;
  }
  return false;
}

export const connectionPolicy = defineL4Policy((conn: Connection): Decision => {
  const c = (compiled ??= load());
  if (!sourceAllowed(c, conn)) {
    const who = conn.sourcePrincipal || 'no identity (plaintext)';
    return decision.deny(`l4-allow-list: source ${who} at ${conn.sourceAddress} matches none of the allowed ${c.sourceLists}`);
  }
  if (c.ports && !c.ports.has(conn.destinationPort)) {
    return decision.deny(`l4-allow-list: destination port ${conn.destinationPort} is not in the allowed ports`);
  }
  return decision.allow();
});
