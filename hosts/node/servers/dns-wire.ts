/**
 * The small part of the DNS wire format (RFC 1035 section 4, https://www.rfc-editor.org/rfc/rfc1035#section-4;
 * EDNS(0) OPT, RFC 6891) the DNS proxy needs: read a query's header, its one question and the
 * requester's UDP payload size; write A/AAAA answers, empty answers and error responses. Forwarded
 * traffic is relayed as raw bytes and never decoded, so no record model is needed (why this is a
 * codec of its own rather than a DNS library: the library's record model would go unused, and this
 * one works on Uint8Array with bounds checked at every read, for packets from anyone).
 */

export const QTYPE_A = 1;
export const QTYPE_AAAA = 28;
const QTYPE_OPT = 41;
export const QCLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;

/** The classic UDP limit, used when the query carries no OPT record. */
export const CLASSIC_UDP_SIZE = 512;
/** The payload size this proxy advertises (and honours at most) over UDP: DNS Flag Day 2020's value. */
export const EDNS_UDP_SIZE = 1232;

export interface DnsQuery {
  id: number;
  opcode: number;
  /** Recursion desired, copied into the response. */
  rd: boolean;
  /** Checking disabled, copied into the response. */
  cd: boolean;
  /** Lowercase dotted name without the trailing dot; undefined when a label holds a dot or odd bytes. */
  name: string | undefined;
  /** The question name as sent (case kept, uncompressed), to echo it back. */
  nameWire: Uint8Array;
  qtype: number;
  qclass: number;
  /** Requester's UDP payload size from OPT; undefined without EDNS. */
  ednsSize: number | undefined;
}

export type QueryParse =
  | { ok: true; query: DnsQuery }
  /** `id` set: worth an error response (FORMERR); unset: not a query at all, drop it. */
  | { ok: false; reason: string; id?: number; opcode?: number };

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

/** Parses a query. Responses (QR=1) and packets shorter than a header are not queries. */
export function parseQuery(b: Uint8Array): QueryParse {
  if (b.length < 12) return { ok: false, reason: 'shorter than a DNS header' };
  const id = u16(b, 0);
  const flags = u16(b, 2);
  if (flags & 0x8000) return { ok: false, reason: 'a response, not a query' };
  const opcode = (flags >> 11) & 0xf;
  const qd = u16(b, 4);
  const an = u16(b, 6);
  const ns = u16(b, 8);
  const ar = u16(b, 10);
  if (qd !== 1) return { ok: false, reason: `${qd} questions (exactly 1 is served)`, id, opcode };
  const q = readName(b, 12);
  if (!q || q.end + 4 > b.length) return { ok: false, reason: 'malformed question', id, opcode };
  const qtype = u16(b, q.end);
  const qclass = u16(b, q.end + 2);
  let off = q.end + 4;
  let ednsSize: number | undefined;
  for (let i = 0; i < an + ns + ar; i++) {
    const rr = readName(b, off);
    if (!rr || rr.end + 10 > b.length) return { ok: false, reason: 'malformed record', id, opcode };
    const type = u16(b, rr.end);
    const rdlen = u16(b, rr.end + 8);
    if (type === QTYPE_OPT && i >= an + ns) ednsSize = u16(b, rr.end + 2);
    off = rr.end + 10 + rdlen;
    if (off > b.length) return { ok: false, reason: 'record data past the end', id, opcode };
  }
  const query: DnsQuery = {
    id,
    opcode,
    rd: (flags & 0x0100) !== 0,
    cd: (flags & 0x0010) !== 0,
    name: q.text,
    nameWire: q.wire,
    qtype,
    qclass,
    ednsSize,
  };
  return { ok: true, query };
}

/** Reads a (possibly compressed) name; undefined when malformed, looping or too long. */
function readName(b: Uint8Array, start: number): { end: number; text: string | undefined; wire: Uint8Array } | undefined {
  const wire: number[] = [];
  let text = '';
  let textOk = true;
  let off = start;
  let end = -1;
  for (let jumps = 0; ; ) {
    if (off >= b.length) return undefined;
    const len = b[off]!;
    if (len === 0) {
      if (end < 0) end = off + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= b.length || ++jumps > 16) return undefined;
      if (end < 0) end = off + 2;
      const target = ((len & 0x3f) << 8) | b[off + 1]!;
      if (target >= off) return undefined; // pointers go backwards only: no loops
      off = target;
      continue;
    }
    if (len & 0xc0 || off + 1 + len > b.length) return undefined;
    wire.push(len);
    if (text.length > 0) text += '.';
    for (let i = off + 1; i <= off + len; i++) {
      const c = b[i]!;
      wire.push(c);
      if (c <= 0x20 || c >= 0x7f || c === 0x2e) textOk = false;
      text += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 32 : c);
    }
    if (wire.length > 254) return undefined;
    off += len + 1;
  }
  wire.push(0);
  return { end, text: textOk ? text : undefined, wire: Uint8Array.from(wire) };
}

/**
 * A response to `q` with the given addresses (each 4 bytes for A or 16 for AAAA, matching qtype).
 * When it would exceed `maxSize`, the answers are left out and TC is set: the client retries over TCP.
 */
export function answerResponse(q: DnsQuery, addresses: Uint8Array[], ttl: number, maxSize: number, authoritative = true): Uint8Array {
  const qlen = q.nameWire.length + 4;
  const optLen = q.ednsSize !== undefined ? 11 : 0;
  let size = 12 + qlen + optLen;
  for (const a of addresses) size += 12 + a.length;
  const truncated = size > maxSize;
  if (truncated) size = 12 + qlen + optLen;
  const out = new Uint8Array(size);
  let off = writeHeader(out, q, RCODE_NOERROR, truncated ? 0 : addresses.length, optLen > 0, authoritative, truncated);
  off = writeQuestion(out, off, q);
  if (!truncated) {
    for (const a of addresses) {
      out[off] = 0xc0; // pointer to the question's name at offset 12
      out[off + 1] = 12;
      setU16(out, off + 2, a.length === 4 ? QTYPE_A : QTYPE_AAAA);
      setU16(out, off + 4, QCLASS_IN);
      setU16(out, off + 6, (ttl >>> 16) & 0xffff);
      setU16(out, off + 8, ttl & 0xffff);
      setU16(out, off + 10, a.length);
      out.set(a, off + 12);
      off += 12 + a.length;
    }
  }
  if (optLen) writeOpt(out, off);
  return out;
}

/** An error response (SERVFAIL, NOTIMP, ...) echoing the question. */
export function errorResponse(q: DnsQuery, rcode: number): Uint8Array {
  const optLen = q.ednsSize !== undefined ? 11 : 0;
  const out = new Uint8Array(12 + q.nameWire.length + 4 + optLen);
  const off = writeQuestion(out, writeHeader(out, q, rcode, 0, optLen > 0, false, false), q);
  if (optLen) writeOpt(out, off);
  return out;
}

/** FORMERR/NOTIMP for a packet whose question could not be read: the header only. */
export function bareErrorResponse(id: number, opcode: number, rcode: number): Uint8Array {
  const out = new Uint8Array(12);
  setU16(out, 0, id);
  setU16(out, 2, 0x8000 | ((opcode & 0xf) << 11) | 0x0080 | rcode);
  return out;
}

/** The response ID and QR bit, to check an upstream's answer belongs to the query. */
export function isResponseTo(b: Uint8Array, id: number): boolean {
  return b.length >= 12 && u16(b, 0) === id && (b[2]! & 0x80) !== 0;
}

/** RCODE of a response. */
export function rcodeOf(b: Uint8Array): number {
  return b.length >= 4 ? b[3]! & 0xf : -1;
}

function writeHeader(out: Uint8Array, q: DnsQuery, rcode: number, ancount: number, opt: boolean, aa: boolean, tc: boolean): number {
  setU16(out, 0, q.id);
  let flags = 0x8000 | ((q.opcode & 0xf) << 11) | 0x0080 | (rcode & 0xf); // QR, opcode, RA, rcode
  if (aa) flags |= 0x0400;
  if (tc) flags |= 0x0200;
  if (q.rd) flags |= 0x0100;
  if (q.cd) flags |= 0x0010;
  setU16(out, 2, flags);
  setU16(out, 4, 1);
  setU16(out, 6, ancount);
  setU16(out, 8, 0);
  setU16(out, 10, opt ? 1 : 0);
  return 12;
}

function writeQuestion(out: Uint8Array, off: number, q: DnsQuery): number {
  out.set(q.nameWire, off);
  off += q.nameWire.length;
  setU16(out, off, q.qtype);
  setU16(out, off + 2, q.qclass);
  return off + 4;
}

/** OPT pseudo-record: root name, type 41, our UDP size, extended rcode/version/flags 0, no options. */
function writeOpt(out: Uint8Array, off: number): void {
  out[off] = 0;
  setU16(out, off + 1, QTYPE_OPT);
  setU16(out, off + 3, EDNS_UDP_SIZE);
}

function setU16(out: Uint8Array, off: number, v: number): void {
  out[off] = (v >> 8) & 0xff;
  out[off + 1] = v & 0xff;
}
