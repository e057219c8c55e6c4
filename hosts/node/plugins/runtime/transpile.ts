/**
 * jco's transpiler in this process: the fallback when no child process can prepare a component
 * (child-transpile.ts; its memory then stays in this process), `prepareComponent` (the edge parity
 * test) and build.mjs. It runs in a worker thread: it works synchronously for ~0.3-0.6 s per
 * component, which on the main thread would stall every connection of the proxy during a plugin change
 * (measured: a 419 ms event-loop stall per new component). The worker is started on demand and
 * ends after a short idle time (plugin changes are rare; the transpiler holds tens of MB). When a
 * worker cannot be started (no resolvable transpiler path, e.g. under a test transformer) it runs
 * in this thread instead.
 */
import { Worker } from 'node:worker_threads';
import { TRANSPILE_OPTIONS as OPTIONS } from './prepared-store.ts';

export interface Transpiled {
  files: Record<string, Uint8Array>;
  exports: [string, string][];
}

const IDLE_MS = 30_000;

async function inThread(bytes: Uint8Array): Promise<Transpiled> {
  const { transpileBytes } = await import('@bytecodealliance/jco-transpile');
  const r = await transpileBytes(bytes, OPTIONS);
  return { files: r.files as Record<string, Uint8Array>, exports: r.exports as [string, string][] };
}

function workerSource(transpilerUrl: string): string {
  return `
import { parentPort } from 'node:worker_threads';
const { transpileBytes } = await import(${JSON.stringify(transpilerUrl)});
parentPort.on('message', async ({ id, bytes }) => {
  try {
    const r = await transpileBytes(bytes, ${JSON.stringify(OPTIONS)});
    const files = {};
    const transfer = [];
    for (const [k, v] of Object.entries(r.files)) {
      if (k.includes('/') || k.endsWith('.d.ts')) continue;
      const copy = new Uint8Array(v);
      files[k] = copy;
      transfer.push(copy.buffer);
    }
    parentPort.postMessage({ id, files, exports: r.exports }, transfer);
  } catch (e) {
    parentPort.postMessage({ id, error: e && e.message ? e.message : String(e) });
  }
});
`;
}

let worker: Worker | undefined;
let workerBroken = false;
let nextId = 1;
const pending = new Map<number, { resolve: (t: Transpiled) => void; reject: (e: Error) => void }>();
let idleTimer: ReturnType<typeof setTimeout> | undefined;

function transpilerUrl(): string | undefined {
  try {
    const resolve = (import.meta as { resolve?: (s: string) => string }).resolve;
    const url = resolve?.('@bytecodealliance/jco-transpile');
    return url && url.startsWith('file:') ? url : undefined;
  } catch {
    return undefined;
  }
}

function getWorker(): Worker | undefined {
  if (worker || workerBroken) return worker;
  const url = transpilerUrl();
  if (!url) {
    workerBroken = true;
    return undefined;
  }
  const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(workerSource(url))}`));
  w.unref();
  w.on('message', (m: { id: number; files?: Record<string, Uint8Array>; exports?: [string, string][]; error?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve({ files: m.files!, exports: m.exports! });
    scheduleIdle();
  });
  const fail = (e: Error) => {
    if (worker === w) worker = undefined;
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(e);
    }
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`transpiler worker exited (${code})`)));
  worker = w;
  return w;
}

function scheduleIdle(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    if (pending.size === 0 && worker) {
      const w = worker;
      worker = undefined;
      void w.terminate();
    }
  }, IDLE_MS);
  idleTimer.unref();
}

/** component bytes -> jco's files (glue `p.js`, core modules `p.core*.wasm`) and export names */
export async function transpileComponent(bytes: Uint8Array): Promise<Transpiled> {
  const w = getWorker();
  if (!w) return inThread(bytes);
  const id = nextId++;
  const copy = new Uint8Array(bytes);
  try {
    return await new Promise<Transpiled>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      w.postMessage({ id, bytes: copy }, [copy.buffer]);
    });
  } catch (e) {
    // a worker that died or could not start: fall back to this thread from now on
    if (e instanceof Error && /transpiler worker|Cannot find|ERR_/.test(e.message)) {
      workerBroken = true;
      return inThread(bytes);
    }
    throw e;
  }
}
