/**
 * A hand reader for DeltaDiscoveryResponse, the message a node proxy receives most and largest (a
 * full push of a big mesh is one message of thousands of resources): it walks the wire format once
 * and returns views into the buffer instead of a protobufjs object per Resource and Any.
 * Field numbers: envoy/service/discovery/v3/discovery.proto.
 */

export interface DeltaResourceView {
  name: string;
  version: string;
  typeUrl: string;
  /** The resource's bytes (the Any's value), a view into the response buffer. */
  value: Uint8Array;
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
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire !== 2) {
      r.skip(wire);
      continue;
    }
    if (field === 1) out.systemVersionInfo = r.string();
    else if (field === 2) out.resources.push(readResource(buf, ...r.span()));
    else if (field === 4) out.typeUrl = r.string();
    else if (field === 5) out.nonce = r.string();
    else if (field === 6) out.removedResources.push(r.string());
    else r.skip(wire);
  }
  return out;
}

/** Resource: version = 1, resource = 2 (Any: type_url = 1, value = 2), name = 3. */
function readResource(buf: Uint8Array, start: number, end: number): DeltaResourceView {
  const res: DeltaResourceView = { name: '', version: '', typeUrl: '', value: buf.subarray(start, start) };
  const r = new Reader(buf, start, end);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire !== 2) r.skip(wire);
    else if (field === 1) res.version = r.string();
    else if (field === 3) res.name = r.string();
    else if (field === 2) {
      const [s, e] = r.span();
      const any = new Reader(buf, s, e);
      while (any.pos < any.end) {
        const t = any.varint();
        if ((t & 7) !== 2) any.skip(t & 7);
        else if (t >> 3 === 1) res.typeUrl = any.string();
        else if (t >> 3 === 2) res.value = buf.subarray(...any.span());
        else any.skip(2);
      }
    } else r.skip(wire);
  }
  return res;
}
