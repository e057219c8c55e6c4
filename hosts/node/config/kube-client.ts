/**
 * The Kubernetes API as the Kubernetes source needs it: a GET that returns the JSON as the server
 * sent it, and a watch stream, both authenticated by a `KubeConfig` of `@kubernetes/client-node`
 * (in-cluster service account, a kubeconfig file, or the default `KUBECONFIG` / `~/.kube/config`).
 *
 * Lists do not go through the library's typed clients: their ObjectSerializer turns timestamps into
 * Date objects and drops fields its models do not know, while watch events arrive as plain JSON;
 * the Store must see one shape (what `kubectl get -o json` shows), so both sides read raw JSON.
 */
import http from 'node:http';
import https from 'node:https';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig, Watch } from '@kubernetes/client-node';

export type KubeObject = Record<string, any> & { metadata: Record<string, any> };

/** A failed API call: `status` is the HTTP status (0 when the server was not reached). */
export class KubeApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
  }
}

export interface WatchHandle {
  abort(): void;
}

export interface KubeClient {
  /** The API server's URL (for log lines). */
  readonly server: string;
  get(path: string, query?: Record<string, string>): Promise<any>;
  /** A JSON merge patch (RFC 7386), e.g. of a `.../status` subresource. */
  mergePatch(path: string, patch: unknown): Promise<any>;
  /** Opens a watch; `onDone` is called once, with null when the server ended the stream. */
  watch(path: string, query: Record<string, string>, onEvent: (type: string, obj: any) => void, onDone: (err: unknown) => void): Promise<WatchHandle>;
}

export interface KubeConfigChoice {
  /** A kubeconfig file (`--kubeconfig`). */
  kubeconfig?: string;
  env?: NodeJS.ProcessEnv;
  /** Prefix of the service account's files (/var/run/secrets/kubernetes.io/serviceaccount): tests. */
  serviceAccountPrefix?: string;
}

/** `--kubeconfig` first; in a pod (KUBERNETES_SERVICE_HOST set) its service account; else KUBECONFIG or ~/.kube/config. */
export function loadKubeConfig(choice: KubeConfigChoice = {}): KubeConfig {
  const env = choice.env ?? process.env;
  const kc = new KubeConfig();
  if (choice.kubeconfig) {
    try {
      kc.loadFromFile(choice.kubeconfig);
    } catch (err) {
      throw new Error(`cannot read the kubeconfig ${choice.kubeconfig}: ${(err as Error).message}`);
    }
  }
  else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster(choice.serviceAccountPrefix);
  else {
    // As kubectl reads them; not the library's loadFromDefault, which falls back to localhost:8080
    // when there is nothing to read, so a missing config would look like an unreachable cluster.
    const files = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
    const home = join(env.HOME ?? homedir(), '.kube', 'config');
    if (files.length === 0 && existsSync(home)) files.push(home);
    if (files.length === 0) throw new Error('no Kubernetes cluster is configured: pass --kubeconfig <file>, set KUBECONFIG, or run weft control in a pod');
    kc.loadFromFile(files[0]!);
    for (const f of files.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(f);
      kc.mergeConfig(more);
    }
  }
  if (!kc.getCurrentCluster()) throw new Error('the kubeconfig names no current cluster: set current-context, or pass --kubeconfig <file>');
  return kc;
}

export function kubeClient(kc: KubeConfig, opts: { requestTimeoutMs?: number } = {}): KubeClient {
  const server = kc.getCurrentCluster()!.server.replace(/\/+$/, '');
  const timeout = opts.requestTimeoutMs ?? 60_000;
  const watcher = new Watch(kc);
  const request = async (method: string, path: string, query: Record<string, string>, body?: string, contentType?: string): Promise<any> => {
    const url = new URL(server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: 'application/json', ...(contentType ? { 'content-type': contentType } : {}) };
    const options: https.RequestOptions = { method, headers };
    await kc.applyToHTTPSOptions(options);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { ...options, timeout }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new KubeApiError(0, 'Network', err.message)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300 && parsed !== undefined) resolve(parsed);
          else reject(new KubeApiError(status, parsed?.reason ?? 'Unknown', parsed?.message ?? (text.slice(0, 200) || `HTTP ${status}`)));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeout} ms`)));
      req.on('error', (err) => reject(new KubeApiError(0, 'Network', err.message)));
      req.end(body);
    });
  };
  return {
    server,
    get: (path, query = {}) => request('GET', path, query),
    mergePatch: (path, patch) => request('PATCH', path, {}, JSON.stringify(patch), 'application/merge-patch+json'),
    async watch(path, query, onEvent, onDone) {
      const controller = await watcher.watch(path, query, onEvent, (err: unknown) => {
        const status = (err as { statusCode?: number } | null)?.statusCode;
        onDone(err && status ? new KubeApiError(status, 'Watch', (err as Error).message) : err);
      });
      return { abort: () => controller.abort() };
    },
  };
}
