/**
 * PEM (RFC 7468) and base64 without runtime helpers (no Buffer, and atob/btoa go through binary
 * strings), so core can read and write certificates, keys and CSRs on any runtime.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const REVERSE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) REVERSE[ALPHABET.charCodeAt(i)] = i;
REVERSE['-'.charCodeAt(0)] = 62; // base64url
REVERSE['_'.charCodeAt(0)] = 63;

export function base64Encode(bytes: Uint8Array, url = false): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + '=';
  }
  if (!url) return out;
  return out.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** Decodes standard or URL-safe base64, ignoring whitespace; throws on any other character. */
export function base64Decode(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
  let n = 0;
  let bits = 0;
  let o = 0;
  let padding = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x3d) {
      padding = true;
      continue;
    }
    const v = c < 128 ? REVERSE[c]! : -1;
    if (v < 0 || padding) throw new Error(`invalid base64 character ${JSON.stringify(text[i])}`);
    n = (n << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (n >> bits) & 0xff;
    }
  }
  return out.slice(0, o);
}

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in the text, in order; text between blocks (openssl's comments) is skipped. */
export function pemDecodeAll(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2]!;
    // RFC 1421 headers (Proc-Type: ...) mean an encrypted legacy key, which Weft does not read
    if (body.includes(':')) throw new Error(`PEM block ${m[1]} has headers (encrypted?); not supported`);
    out.push({ label: m[1]!, der: base64Decode(body) });
  }
  return out;
}

export function pemEncode(label: string, der: Uint8Array): string {
  const b64 = base64Encode(der);
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}
