/**
 * The original destination of a REDIRECTed connection (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST), read
 * by the native addon in native/original-dst (Node exposes no getsockopt). The addon is loaded lazily
 * on first use, so `weft node --capture none` and every other role run where it was never built.
 *
 * Where the .node file is looked for, first hit wins: $WEFT_ORIGINAL_DST_ADDON; `original_dst.node`
 * beside this module (a packaged bundle may copy it there); `native/original-dst/build/Release/
 * original_dst.node` in this module's directory or any parent (dist/weft.mjs and the TypeScript
 * sources both find the repository's build). It is loaded with process.dlopen on a computed path, so
 * esbuild never tries to bundle it.
 */
import type { Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaryRuntime } from '../binary/runtime.ts';

interface Addon {
  originalDst(fd: number): string;
}

export interface OriginalDst {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

const BUILT = join('native', 'original-dst', 'build', 'Release', 'original_dst.node');
let addon: Addon | undefined;
let loadError: Error | undefined;

/** Candidate paths for the addon, in order (exported for diagnostics and tests). */
export function addonCandidates(from: string = dirname(fileURLToPath(import.meta.url))): string[] {
  const out: string[] = [];
  if (process.env.WEFT_ORIGINAL_DST_ADDON) out.push(process.env.WEFT_ORIGINAL_DST_ADDON);
  // the single binary embeds it and writes it into the state dir (dlopen needs a file)
  const binary = binaryRuntime();
  if (binary) {
    try {
      const embedded = binary.originalDstAddon();
      if (embedded) out.push(embedded);
    } catch (e) {
      out.push(`(embedded addon: ${(e as Error).message})`);
    }
  }
  out.push(join(from, 'original_dst.node'));
  for (let dir = from, i = 0; i < 8; i++) {
    out.push(join(dir, BUILT));
    if (dir === parse(dir).root) break;
    dir = dirname(dir);
  }
  return out;
}

function load(): Addon {
  if (addon) return addon;
  if (loadError) throw loadError;
  const candidates = addonCandidates();
  const path = candidates.find((p) => existsSync(p));
  try {
    if (!path) throw new Error(`not found in ${candidates.join(', ')}`);
    const mod = { exports: {} as Partial<Addon> };
    process.dlopen(mod, path);
    if (typeof mod.exports.originalDst !== 'function') throw new Error(`${path} does not export originalDst`);
    addon = mod.exports as Addon;
    return addon;
  } catch (err) {
    loadError = new Error(
      `the SO_ORIGINAL_DST addon cannot be loaded (${err instanceof Error ? err.message : String(err)}): ` +
        'build it with `npm ci` (it needs gcc, make, python3 and the Node headers) or `npm rebuild @weft/original-dst`, ' +
        'or run without transparent capture (`--capture none`, SOCKS5 / HTTP CONNECT on 15080)',
    );
    throw loadError;
  }
}

/** True when the addon loads; never throws. */
export function originalDstAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/** The descriptor behind a connected TCP socket (internal `_handle.fd`, stable for TCP on Linux). */
export function socketFd(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no file descriptor (closed, or not a TCP socket)');
  return fd;
}

/**
 * "ip:port" (IPv6 as "[ip]:port") the client originally dialled. For a connection that was not
 * redirected this is the socket's own local address (compare, to refuse direct connections to 15001),
 * or an error with code ENOENT when conntrack does not track the connection at all.
 */
export function originalDstString(socket: Socket): string {
  return load().originalDst(socketFd(socket));
}

export function originalDst(socket: Socket): OriginalDst {
  const s = originalDstString(socket);
  const i = s.lastIndexOf(':');
  const host = s.slice(0, i);
  const v6 = host.startsWith('[');
  return { address: v6 ? host.slice(1, -1) : host, port: Number(s.slice(i + 1)), family: v6 ? 'IPv6' : 'IPv4' };
}
