/**
 * Runs a short-lived Node helper inside another network namespace and receives the sockets it makes
 * there (capture-in-node.md): `nsenter --net=<path> node -e <script>` with an IPC channel; the helper
 * creates listening servers (or connected sockets) in that namespace and sends them over IPC with
 * `process.send(msg, handle)`, then exits. The handles keep working in this process: a server accepts
 * connections from inside the pod namespace in the node proxy's own event loop.
 *
 * Why an inline `-e` script rather than a helper file or a hidden `weft` subcommand: it works the same
 * from the TypeScript sources, from the single esbuild bundle and from any install layout, with no
 * file to find or ship, and the helper starts in ~40 ms without loading the bundle.
 *
 * Helper protocol: the spec arrives as JSON in $WEFT_NETNS_HELPER; the helper sends
 * `{ kind: 'handle', ... }` messages each with one handle, then `{ kind: 'done' }`, or
 * `{ kind: 'error', message, code }`. Messages arrive in order, so 'done' means every handle has.
 */
import { spawn } from 'node:child_process';
import type { Socket as UdpSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';

export interface HelperHandle<M = Record<string, unknown>> {
  message: M;
  handle: Server | Socket | UdpSocket;
}

/** A helper that has not finished by then exits on its own (the parent's timeout is shorter). */
const HELPER_LIFETIME_MS = 60_000;

interface HelperMessage {
  kind?: string;
  count?: number;
  message?: string;
  code?: string;
}

/**
 * Common prelude of helper scripts: `send(msg, handle)` as a promise, `finish()` and `fail(err)`.
 * A script appends its body, which reads `spec` and ends with `finish()`. The helper keeps its own
 * copies of the handles open until the parent says 'release' (closing a handle before the parent has
 * acknowledged it loses the messages queued behind it), then exits; it also exits if the parent goes.
 */
export const HELPER_PRELUDE = `
'use strict';
const net = require('node:net');
const spec = JSON.parse(process.env.WEFT_NETNS_HELPER || '{}');
let sent = 0;
const send = (msg, handle) => new Promise((res, rej) => process.send(msg, handle, (e) => (e ? rej(e) : (sent++, res()))));
const finish = () => process.send({ kind: 'done', count: sent });
const fail = (e) => process.send({ kind: 'error', message: String((e && e.message) || e), code: e && e.code }, () => process.exit(1));
process.on('uncaughtException', fail);
process.on('message', (m) => m && m.kind === 'release' && process.exit(0));
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(2), ${HELPER_LIFETIME_MS});
`;

/**
 * Listens on each `spec.listen[i]` ({port, host, proto?, ipv6Only?}) and sends the servers; `proto: 'udp'`
 * binds a dgram socket instead (Node passes dgram sockets over IPC too). `ipv6Only` lets `::` take a
 * port that 0.0.0.0 already holds.
 */
export const LISTEN_SCRIPT = `${HELPER_PRELUDE}
const dgram = require('node:dgram');
(async () => {
  for (const { port, host, proto, ipv6Only } of spec.listen) {
    let handle;
    if (proto === 'udp') {
      handle = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ipv6Only: !!ipv6Only });
      await new Promise((res, rej) => { handle.once('error', rej); handle.bind({ port, address: host }, res); });
    } else {
      handle = net.createServer(); // accepts nothing here: no connection listener, and the helper exits at once
      await new Promise((res, rej) => { handle.once('error', rej); handle.listen({ port, host, backlog: 1024, ipv6Only: !!ipv6Only }, res); });
    }
    await send({ kind: 'handle', port, host, proto: proto || 'tcp' }, handle);
  }
  finish();
})().catch(fail);
`;

/** Connects to `spec.connect` ({host, port, localAddress?}) and sends the connected socket. */
export const CONNECT_SCRIPT = `${HELPER_PRELUDE}
const socket = net.connect(spec.connect);
socket.once('error', fail);
socket.once('connect', () => send({ kind: 'handle', localAddress: socket.localAddress, localPort: socket.localPort }, socket).then(finish, fail));
`;

export interface HelperOptions<M = Record<string, unknown>> {
  timeoutMs?: number;
  nodePath?: string;
  /** Called as each handle arrives (before the helper finishes), e.g. to attach a 'connection' listener at once. */
  onHandle?: (h: HelperHandle<M>) => void;
}

/** Runs `script` in the namespace at `netnsPath` and resolves with the handles it sent, in order. */
export function runNetnsHelper<M = Record<string, unknown>>(
  netnsPath: string,
  script: string,
  spec: unknown,
  opts: HelperOptions<M> = {},
): Promise<HelperHandle<M>[]> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', [`--net=${netnsPath}`, '--', opts.nodePath ?? process.execPath, '-e', script], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', WEFT_NETNS_HELPER: JSON.stringify(spec) },
    });
    const got: HelperHandle<M>[] = [];
    let stderr = '';
    let settled = false;
    let expected = -1; // handles announced by 'done'; a handle's message may trail it (listen() is async)
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.connected) child.send({ kind: 'release' }, () => {});
      if (!err) return resolve(got);
      for (const h of got) closeHandle(h.handle);
      // reject once the helper is gone, so its copies of the sockets are closed too: nothing is left behind
      if (child.exitCode !== null || child.signalCode !== null) return reject(err);
      child.once('exit', () => reject(err));
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => settle(new Error(`netns helper in ${netnsPath} did not finish in ${timeoutMs} ms${tail(stderr)}`)), timeoutMs);
    child.on('message', (msg: HelperMessage, handle?: Server | Socket | UdpSocket) => {
      if (msg.kind === 'handle' && handle) {
        const h = { message: msg as M, handle };
        got.push(h);
        opts.onHandle?.(h);
        if (got.length === expected) settle();
      } else if (msg.kind === 'done') {
        expected = msg.count ?? 0;
        if (got.length >= expected) settle();
      } else if (msg.kind === 'error') settle(Object.assign(new Error(`in ${netnsPath}: ${msg.message}`), { code: msg.code }));
    });
    child.once('error', (err) => settle(new Error(`cannot start the netns helper (nsenter): ${err.message}`)));
    // 'close' comes after the IPC channel and stderr have closed, so every message has been seen
    child.once('close', (code, signal) => settle(new Error(`netns helper for ${netnsPath} exited (${signal ?? code}) before finishing${tail(stderr)}`)));
  });
}

function tail(stderr: string): string {
  const s = stderr.trim();
  return s ? `: ${s.split('\n').slice(-3).join(' | ')}` : '';
}

function closeHandle(h: Server | Socket | UdpSocket): void {
  if ('destroy' in h) h.destroy();
  else
    try {
      h.close();
    } catch {
      // a dgram socket closed already throws; closing twice is not an error here
    }
}
