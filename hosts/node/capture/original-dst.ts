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
 *
 * The same addon makes TCP sockets inside a pod's network namespace (openNetns, socketInNetns):
 * the node proxy passes a pod's connection through from the pod's own namespace (pod-netns.ts).
 */
import type { Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaryRuntime } from '../binary/runtime.ts';

interface Addon {
  originalDst(fd: number): string;
  // since the pod-netns passthrough (netns_socket.c); an addon built before lacks them
  openNetns?(path: string): number;
  closeNetns?(fd: number): void;
  socketInNetns?(nsFd: number, family: 4 | 6, mark: number): number;
  socketMark?(fd: number): number;
  // since the bulk malloc settings (malloc_tune.c)
  mallocTune?(trimThreshold: number, topPad: number, mmapThreshold: number): boolean;
  mallocTrim?(): boolean;
  // since the page-out of file mappings (page_out.c)
  pageOutFiles?(): number;
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

/** The addon file that loads, the first candidate that exists; undefined where none was built. */
export function addonPath(): string | undefined {
  return addonCandidates().find((p) => existsSync(p));
}

function load(): Addon {
  if (addon) return addon;
  if (loadError) throw loadError;
  const path = addonPath();
  try {
    if (!path) throw new Error(`not found in ${addonCandidates().join(', ')}`);
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

/** The addon's network-namespace functions, or an error saying why they are not there. */
function netnsFns(): Required<Pick<Addon, 'openNetns' | 'closeNetns' | 'socketInNetns' | 'socketMark'>> {
  const a = load();
  if (typeof a.socketInNetns !== 'function' || typeof a.openNetns !== 'function' || typeof a.closeNetns !== 'function' || typeof a.socketMark !== 'function') {
    throw Object.assign(new Error('the SO_ORIGINAL_DST addon was built before socketInNetns existed: rebuild it (`node native/original-dst/install.cjs`, or `npm ci`)'), { code: 'ENOSYS' });
  }
  return a as ReturnType<typeof netnsFns>;
}

/** True when the addon loads and has the network-namespace functions; never throws. */
export function netnsSocketsAvailable(): boolean {
  try {
    netnsFns();
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens a network namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`) and returns its descriptor
 * (close-on-exec). Throws with `code` ENOENT (no such file), EINVAL (not a network namespace), ...
 * Holding it keeps the namespace alive until closeNetns.
 */
export function openNetns(path: string): number {
  return netnsFns().openNetns(path);
}

export function closeNetns(fd: number): void {
  netnsFns().closeNetns(fd);
}

/**
 * A new non-blocking, unconnected TCP socket created inside the namespace `nsFd` (from openNetns),
 * with SO_MARK `mark` (0: none), returned as a descriptor for `new net.Socket({ fd }).connect(...)`.
 * Only its creation happens there (the calling thread enters the namespace and returns at once);
 * wherever it is connected from, it routes, binds and is filtered in that namespace. Throws with
 * `code` (EPERM without CAP_SYS_ADMIN / CAP_NET_ADMIN, EBADF, EINVAL, EMFILE, ...).
 */
export function socketInNetns(nsFd: number, family: 4 | 6, mark = 0): number {
  return netnsFns().socketInNetns(nsFd, family, mark);
}

/** A socket's SO_MARK (diagnostics and tests). */
export function socketMark(fd: number): number {
  return netnsFns().socketMark(fd);
}

/**
 * glibc's malloc settings for bulk transfers (native/original-dst/src/malloc_tune.c says why): a 16 MiB
 * trim threshold, 4 MiB top pad and 1 MiB mmap threshold. With 4 MiB / 1 MiB the receiving hop still
 * handed pages back at every GC that freed a burst of record buffers and faulted them in again: its
 * CPU per GB went 2.2-2.3 -> 1.74-1.75 s with these (L4 bench, bulk only, 2026-11-27), for ~8 MB
 * more RSS during a transfer, which the periodic malloc_trim (memory-release.ts) hands back once the
 * process is quiet. True when applied; false where the addon
 * is missing or older, or the C library is not glibc. Never throws.
 */
export function tuneMallocForBulk(): boolean {
  try {
    const a = load();
    return typeof a.mallocTune === 'function' && a.mallocTune(16 * 1024 * 1024, 4 * 1024 * 1024, 1024 * 1024);
  } catch {
    return false;
  }
}

/**
 * glibc's malloc_trim(0): free heap pages go back to the kernel (malloc_tune.c says how much that is
 * after startup). True when memory was released. Never throws: false without the addon or glibc.
 */
export function trimMalloc(): boolean {
  try {
    const a = load();
    return typeof a.mallocTrim === 'function' && a.mallocTrim();
  } catch {
    return false;
  }
}

/**
 * Asks the kernel to reclaim the resident pages of this process's read-only file mappings (the node
 * binary's text and read-only data above all; page_out.c says why that is safe). Returns the bytes of
 * mappings advised; 0 without the addon (or an addon built before it), -1 where the kernel refuses.
 * Never throws.
 */
export function pageOutFileMappings(): number {
  try {
    const a = load();
    return typeof a.pageOutFiles === 'function' ? a.pageOutFiles() : 0;
  } catch {
    return 0;
  }
}
