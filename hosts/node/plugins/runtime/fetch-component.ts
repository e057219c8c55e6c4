/**
 * Gets a plugin component's bytes from its binding's URL and checks them before anything else
 * reads them: the sha256 the WasmPlugin pinned, then the component header.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FetchOptions {
  /** where `file:///builtin/<name>.wasm` points */
  builtinDir: string;
  /** http(s) downloads (default 15 s) */
  fetchTimeoutMs?: number;
  /** refuse larger components (default 64 MiB) */
  maxBytes?: number;
}

/** the local file a `file://` URL names (built-ins from `builtinDir`); undefined for other schemes */
export function componentFilePath(url: string, builtinDir: string): string | undefined {
  if (url.startsWith('file:///builtin/')) return join(builtinDir, basename(url.slice('file:///builtin/'.length)));
  if (url.startsWith('file://')) return fileURLToPath(url);
  return undefined;
}

export async function fetchComponentBytes(url: string, o: FetchOptions): Promise<Uint8Array> {
  const maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
  const path = componentFilePath(url, o.builtinDir);
  if (path !== undefined) return readLimited(path, maxBytes, url);
  if (url.startsWith('http://') || url.startsWith('https://')) {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(o.fetchTimeoutMs ?? 15_000) });
    } catch (e) {
      throw new Error(`cannot fetch ${url}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!res.ok) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
    const len = Number(res.headers.get('content-length') ?? 0);
    if (len > maxBytes) throw new Error(`${url} is ${len} bytes, over the ${maxBytes}-byte limit`);
    const buf = new Uint8Array(await res.arrayBuffer());
    if (buf.length > maxBytes) throw new Error(`${url} is over the ${maxBytes}-byte limit`);
    return buf;
  }
  if (url.startsWith('oci://')) throw new Error(`OCI images are not supported yet (${url}); use an http(s):// or file:// URL`);
  throw new Error(`unsupported plugin URL ${url} (file://, http:// and https:// are supported)`);
}

async function readLimited(path: string, maxBytes: number, url: string): Promise<Uint8Array> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${url}${code === 'ENOENT' ? ` (no file ${path})` : `: ${(e as Error).message}`}`);
  }
  if (buf.length > maxBytes) throw new Error(`${url} is ${buf.length} bytes, over the ${maxBytes}-byte limit`);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** refuses bytes whose hash is not the pinned one */
export function checkSha256(bytes: Uint8Array, expected: string | undefined, url: string): string {
  const actual = sha256Hex(bytes);
  if (expected && expected.toLowerCase() !== actual) throw sha256Mismatch(url, expected, actual);
  return actual;
}

export function sha256Mismatch(url: string, expected: string, actual: string): Error {
  return new Error(`sha256 mismatch for ${url}: expected ${expected.toLowerCase()}, got ${actual}`);
}

/** a component: "\0asm", version 0x0d, layer 1; a core module has layer 0 */
export function checkComponentHeader(bytes: Uint8Array, url: string): void {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error(`${url} is not a WebAssembly component (no \\0asm header)`);
  }
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 0) throw new Error(`${url} is a core WebAssembly module, not a component (build plugins with \`weft plugin build\`)`);
  if (layer !== 1) throw new Error(`${url} is not a WebAssembly component (unknown layer ${layer})`);
}
