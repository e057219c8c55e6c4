/**
 * The chunked transfer coding (RFC 9112 7.1), validated while it streams: chunk sizes are 1-13 hex
 * digits with no whitespace, extensions are bounded and free of control bytes, every line ends in
 * CRLF, data is followed by CRLF, trailers are header lines as strict as the head's. Anything else
 * is refused (HeadError: 400 for requests, 502 for responses), never guessed at.
 *
 * The decoder reports data ranges to a sink (for a proxy that re-frames, e.g. HTTP/1.1 to HTTP/2)
 * and where the message ended, so the HTTP/1.1-to-HTTP/1.1 path can pass the coded bytes through
 * untouched once they are known to be well-formed.
 */
import { HeadError, type HeadErrorStatus } from './http1-parser.ts';

export interface ChunkSink {
  /** Payload bytes `buf[start, end)`, valid only during the call unless kept by reference. */
  onChunkData(buf: Buffer, start: number, end: number): void;
  /** Trailer fields as a flat `[name, value, ...]` list, names lower-case (called before the end). */
  onTrailers?(fields: string[]): void;
}

const enum S {
  Size,
  /** After `;`: the first byte of an extension name. */
  ExtName,
  /** Inside a name: more token bytes, `=`, `;` or CR. */
  ExtNameMore,
  /** After `=`: a token or a quoted string. */
  ExtValStart,
  ExtValToken,
  ExtValQuoted,
  ExtValEscape,
  /** After a closing quote: `;` or CR. */
  ExtValEnd,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  EndLf,
  Done,
}

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}
/** Bytes allowed in a chunk extension (token, quoted-string, `=`, `;`, OWS): visible ASCII, SP, HTAB. */
const EXT = new Uint8Array(256);
for (let c = 0x20; c <= 0x7e; c++) EXT[c] = 1;
EXT[0x09] = 1;
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

const MAX_SIZE_DIGITS = 13; // < 2^52: exact in a double
const MAX_EXT = 4096;
const MAX_TRAILERS = 16 * 1024;

export class ChunkedDecoder {
  #state = S.Size;
  #digits = 0;
  #size = 0;
  #remaining = 0;
  #ext = 0;
  #trailer: number[] | undefined;
  #trailerFields: string[] | undefined;
  /** Payload bytes seen so far. */
  payload = 0;

  constructor(
    readonly sink: ChunkSink | undefined,
    readonly errStatus: HeadErrorStatus = 400,
  ) {}

  get done(): boolean {
    return this.#state === S.Done;
  }

  reset(): void {
    this.#state = S.Size;
    this.#digits = 0;
    this.#size = 0;
    this.#remaining = 0;
    this.#ext = 0;
    this.#trailer = undefined;
    this.#trailerFields = undefined;
    this.payload = 0;
  }

  #fail(code: string, message: string): never {
    throw new HeadError(this.errStatus, code, message);
  }

  /**
   * Feeds `buf[start, end)`. Returns the index just past the message's last byte when it ended in
   * this range (bytes after it belong to the next message), else -1 (all consumed).
   */
  feed(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      switch (this.#state) {
        case S.Data: {
          const n = Math.min(this.#remaining, end - i);
          if (this.sink !== undefined) this.sink.onChunkData(buf, i, i + n);
          this.payload += n;
          this.#remaining -= n;
          i += n;
          if (this.#remaining === 0) this.#state = S.DataCr;
          continue;
        }
        case S.Size: {
          const c = buf[i]!;
          const d = HEX[c]!;
          if (d >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) this.#fail('chunk-size-too-large', 'chunk size too large');
            this.#size = this.#size * 16 + d;
          } else if (this.#digits === 0) {
            this.#fail('bad-chunk-size', 'invalid chunk size');
          } else if (c === 0x3b) {
            this.#state = S.ExtName;
          } else if (c === 0x0d) {
            this.#state = S.SizeLf;
          } else {
            this.#fail('bad-chunk-size', 'invalid chunk size');
          }
          i++;
          continue;
        }
        case S.ExtName:
        case S.ExtNameMore:
        case S.ExtValStart:
        case S.ExtValToken:
        case S.ExtValQuoted:
        case S.ExtValEscape:
        case S.ExtValEnd:
          if (++this.#ext > MAX_EXT) this.#fail('chunk-ext-too-long', 'chunk extensions too long');
          this.#extByte(buf[i]!);
          i++;
          continue;
        case S.SizeLf:
          if (buf[i] !== 0x0a) this.#fail('bare-cr', 'chunk size line not ended by CRLF');
          i++;
          this.#digits = 0;
          if (this.#size === 0) {
            this.#state = S.TrailerStart;
          } else {
            this.#remaining = this.#size;
            this.#size = 0;
            this.#state = S.Data;
          }
          continue;
        case S.DataCr:
          if (buf[i] !== 0x0d) this.#fail('bad-chunk-end', 'chunk data not followed by CRLF');
          this.#state = S.DataLf;
          i++;
          continue;
        case S.DataLf:
          if (buf[i] !== 0x0a) this.#fail('bad-chunk-end', 'chunk data not followed by CRLF');
          this.#state = S.Size;
          i++;
          continue;
        case S.TrailerStart:
          if (buf[i] === 0x0d) {
            this.#state = S.EndLf;
            i++;
            continue;
          }
          this.#trailer = [];
          this.#state = S.Trailer;
          continue;
        case S.Trailer: {
          const c = buf[i]!;
          if (c === 0x0d) this.#state = S.TrailerLf;
          else if (c === 0x0a) this.#fail('bare-lf', 'trailer line ended by LF without CR');
          else {
            if (this.#ext++ > MAX_TRAILERS) this.#fail('trailers-too-large', 'trailer section too large');
            this.#trailer!.push(c);
          }
          i++;
          continue;
        }
        case S.TrailerLf:
          if (buf[i] !== 0x0a) this.#fail('bare-cr', 'trailer line not ended by CRLF');
          this.#trailerLine(this.#trailer!);
          this.#trailer = undefined;
          this.#state = S.TrailerStart;
          i++;
          continue;
        case S.EndLf:
          if (buf[i] !== 0x0a) this.#fail('bare-cr', 'last chunk not ended by CRLF');
          this.#state = S.Done;
          if (this.#trailerFields !== undefined && this.sink?.onTrailers) this.sink.onTrailers(this.#trailerFields);
          return i + 1;
        case S.Done:
          return i;
      }
    }
    return -1;
  }

  /**
   * chunk-ext = *( ";" name [ "=" ( token / quoted-string ) ] ) (RFC 9112 7.1.1), without the
   * optional whitespace (BWS), which is refused as llhttp's strict mode does.
   */
  #extByte(c: number): void {
    switch (this.#state) {
      case S.ExtName:
        if (TOKEN[c] !== 1) this.#fail('bad-chunk-ext', 'invalid chunk extension');
        this.#state = S.ExtNameMore;
        return;
      case S.ExtNameMore:
      case S.ExtValToken:
        if (TOKEN[c] === 1) return;
        if (c === 0x3d && this.#state === S.ExtNameMore) this.#state = S.ExtValStart;
        else if (c === 0x3b) this.#state = S.ExtName;
        else if (c === 0x0d) this.#state = S.SizeLf;
        else this.#fail('bad-chunk-ext', 'invalid chunk extension');
        return;
      case S.ExtValStart:
        if (c === 0x22) this.#state = S.ExtValQuoted;
        else if (TOKEN[c] === 1) this.#state = S.ExtValToken;
        else this.#fail('bad-chunk-ext', 'invalid chunk extension');
        return;
      case S.ExtValQuoted:
        if (c === 0x22) this.#state = S.ExtValEnd;
        else if (c === 0x5c) this.#state = S.ExtValEscape;
        else if (EXT[c] === 0 && c < 0x80) this.#fail('bad-chunk-ext', 'invalid chunk extension');
        return;
      case S.ExtValEscape:
        if (EXT[c] === 0 && c < 0x80) this.#fail('bad-chunk-ext', 'invalid chunk extension');
        this.#state = S.ExtValQuoted;
        return;
      case S.ExtValEnd:
        if (c === 0x3b) this.#state = S.ExtName;
        else if (c === 0x0d) this.#state = S.SizeLf;
        else this.#fail('bad-chunk-ext', 'invalid chunk extension');
        return;
      default:
        return;
    }
  }

  #trailerLine(line: number[]): void {
    const c0 = line[0];
    if (c0 === 0x20 || c0 === 0x09) this.#fail('obs-fold', 'obsolete line folding in trailers');
    let i = 0;
    while (i < line.length && TOKEN[line[i]!] === 1) i++;
    if (i === 0 || line[i] !== 0x3a) this.#fail('bad-trailer', 'invalid trailer field');
    const name = String.fromCharCode(...line.slice(0, i)).toLowerCase();
    i++;
    let e = line.length;
    while (i < e && (line[i] === 0x20 || line[i] === 0x09)) i++;
    while (e > i && (line[e - 1] === 0x20 || line[e - 1] === 0x09)) e--;
    for (let k = i; k < e; k++) {
      const c = line[k]!;
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) this.#fail('bad-trailer', 'control character in a trailer value');
    }
    (this.#trailerFields ??= []).push(name, Buffer.from(line.slice(i, e)).toString('latin1'));
  }
}

/** Frames one chunk of payload: `<hex size>\r\n` (the caller writes the data, then `\r\n`). */
export function chunkHeader(size: number): string {
  return `${size.toString(16)}\r\n`;
}
