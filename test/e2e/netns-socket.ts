/**
 * Test helper: a TCP connection made from inside a namespace (a pod, a node) and handed to the test
 * process, so a test can talk from "pod A" without spawning a client program for each connection.
 * Uses the same helper mechanism as the in-pod listeners (hosts/node/capture/netns-helper.ts).
 */
import type { Socket } from 'node:net';
import { CONNECT_SCRIPT, runNetnsHelper } from '../../hosts/node/capture/netns-helper.ts';

export async function connectFrom(where: { netnsPath: string }, host: string, port: number, opts: { timeoutMs?: number } = {}): Promise<Socket> {
  const [h] = await runNetnsHelper(where.netnsPath, CONNECT_SCRIPT, { connect: { host, port } }, { timeoutMs: opts.timeoutMs ?? 5000 });
  if (!h) throw new Error(`no socket came back from ${where.netnsPath}`);
  return h.handle as Socket;
}

/** Resolves with the next value pushed, or rejects after `timeoutMs`. */
export class Inbox<T> {
  #items: T[] = [];
  #waiters: Array<(v: T) => void> = [];

  push(v: T): void {
    const w = this.#waiters.shift();
    if (w) w(v);
    else this.#items.push(v);
  }

  next(timeoutMs = 5000, what = 'an event'): Promise<T> {
    const v = this.#items.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter = (x: T) => {
        clearTimeout(timer);
        resolve(x);
      };
      this.#waiters.push(waiter);
    });
  }

  get size(): number {
    return this.#items.length;
  }
}
