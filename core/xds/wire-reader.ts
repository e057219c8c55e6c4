/**
 * A hand reader for DeltaDiscoveryResponse, the message a node proxy receives most and largest (a
 * full push of a big mesh is one message of thousands of resources): it walks the wire format once
 * and returns views into the buffer instead of a protobufjs object per Resource and Any.
 * Field numbers: envoy/service/discovery/v3/discovery.proto.
 */

/**
 * One Resource of a DeltaDiscoveryResponse. Only its name is read into a string up front; the version
 * is read on first use and the bytes are a view made on use, so a full push of 10,000 resources makes
 * 10,000 small objects and names, and nothing else (a client holds them all until they change).
 */
export class DeltaResourceView {
  /** The decoded message, for a client that decodes (this reader only reads the framing). */
  resource?: object;
  #version: string | undefined;
  readonly #buf: Uint8Array;
  readonly #value: number;
  readonly #valueEnd: number;
  readonly #ver: number;
  readonly #verEnd: number;

  constructor(
    readonly name: string,
    /** The Any's type URL (one string shared by the resources of a response). */
    readonly typeUrl: string,
    buf: Uint8Array,
    value: number,
    valueEnd: number,
    ver: number,
    verEnd: number,
  ) {
    this.#buf = buf;
    this.#value = value;
    this.#valueEnd = valueEnd;
    this.#ver = ver;
    this.#verEnd = verEnd;
  }

  get version(): string {
    return (this.#version ??= readString(this.#buf, this.#ver, this.#verEnd));
  }

  /** The resource's encoded bytes (the Any's value), a view into the response buffer. */
  get bytes(): Uint8Array {
    return this.#buf.subarray(this.#value, this.#valueEnd);
  }
}

export interface DeltaResponseView {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: DeltaResourceView[];
  removedResources: string[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * shift;
      if (b < 0x80) return result;
      shift *= 128;
    }
    throw new Error('varint too long');
  }

  /** Start and end of a length-delimited field's contents. */
  span(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new Error('truncated field');
    this.pos = start + len;
    return [start, start + len];
  }

  string(): string {
    const [s, e] = this.span();
    return readString(this.buf, s, e);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.span();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        throw new Error(`unsupported wire type ${wireType}`);
    }
    // (groups, wire types 3 and 4, do not occur in proto3 messages)
  }
}

const scratch: number[] = [];

function readString(buf: Uint8Array, start: number, end: number): string {
  // Names and versions are short ASCII nearly always: one flat string from the char codes, without
  // TextDecoder's call cost (and without `+=`, whose rope strings are slow as Map keys).
  if (end - start <= 128) {
    scratch.length = 0;
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return utf8.decode(buf.subarray(start, end));
      scratch.push(c);
    }
    return String.fromCharCode.apply(null, scratch);
  }
  return utf8.decode(buf.subarray(start, end));
}

export function readDeltaDiscoveryResponse(buf: Uint8Array): DeltaResponseView {
  const out: DeltaResponseView = { systemVersionInfo: '', typeUrl: '', nonce: '', resources: [], removedResources: [] };
  const r = new Reader(buf, 0, buf.length);
  const types = new TypeUrls(buf);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire !== 2) {
      r.skip(wire);
      continue;
    }
    if (field === 1) out.systemVersionInfo = r.string();
    else if (field === 2) out.resources.push(readResource(buf, ...r.span(), types));
    else if (field === 4) out.typeUrl = r.string();
    else if (field === 5) out.nonce = r.string();
    else if (field === 6) out.removedResources.push(r.string());
    else r.skip(wire);
  }
  return out;
}

/** Resource: version = 1, resource = 2 (Any: type_url = 1, value = 2), name = 3. */
function readResource(buf: Uint8Array, start: number, end: number, types: TypeUrls): DeltaResourceView {
  let name = '';
  let typeUrl = '';
  let value = start;
  let valueEnd = start;
  let ver = start;
  let verEnd = start;
  const r = new Reader(buf, start, end);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire !== 2) r.skip(wire);
    else if (field === 1) [ver, verEnd] = r.span();
    else if (field === 3) name = r.string();
    else if (field === 2) {
      const [s, e] = r.span();
      const any = new Reader(buf, s, e);
      while (any.pos < any.end) {
        const t = any.varint();
        if ((t & 7) !== 2) any.skip(t & 7);
        else if (t >> 3 === 1) typeUrl = types.read(...any.span());
        else if (t >> 3 === 2) [value, valueEnd] = any.span();
        else any.skip(2);
      }
    } else r.skip(wire);
  }
  return new DeltaResourceView(name, typeUrl, buf, value, valueEnd, ver, verEnd);
}

/** Type URLs of one response: the same bytes read once into one string (every resource repeats it). */
class TypeUrls {
  #start = 0;
  #end = 0;
  #last = '';
  constructor(readonly buf: Uint8Array) {}

  read(start: number, end: number): string {
    const buf = this.buf;
    const len = end - start;
    if (this.#last && len === this.#end - this.#start) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (buf[start + i] !== buf[this.#start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#last;
    }
    this.#start = start;
    this.#end = end;
    return (this.#last = readString(buf, start, end));
  }
}
