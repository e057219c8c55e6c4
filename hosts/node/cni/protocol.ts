/**
 * The CNI hook's wire protocol: HTTP/1.1 over the node proxy's Unix socket (as istio-cni's plugin
 * talks to its node agent), JSON bodies, so `curl --unix-socket /var/run/weft/node.sock` can poke it.
 *   POST /v1/cni/add  {"pod": "NS/NAME", "netns": "/run/netns/..."}  -> 200 {"ok": true, "message"?}
 *   POST /v1/cni/del  {"pod": "NS/NAME", "netns"?: "..."}            -> 200 {"ok": true, "message"?}
 *   GET  /healthz                                                  -> 200 {"ok": true}
 * A failure is 400 (bad request) or 500 (the node proxy could not do it) with {"ok": false, "error"}.
 */

export const DEFAULT_CNI_SOCKET = '/var/run/weft/node.sock';
export const CNI_PATHS = { add: '/v1/cni/add', del: '/v1/cni/del', health: '/healthz' } as const;

export type CniOp = 'add' | 'del';

export interface CniRequest {
  /** "namespace/name" */
  pod: string;
  /** The pod's network namespace (a /run/netns/* or /proc/PID/ns/net path); optional for del. */
  netns?: string;
}

export type CniResponse = { ok: true; message?: string } | { ok: false; error: string };

// Kubernetes names: a namespace is a DNS label, a pod name a DNS subdomain.
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** Checks "NS/NAME"; returns an error message or undefined. */
export function podRefError(pod: unknown): string | undefined {
  if (typeof pod !== 'string') return 'pod must be a string "NAMESPACE/NAME"';
  const parts = pod.split('/');
  if (parts.length !== 2) return `pod must be NAMESPACE/NAME, not ${JSON.stringify(pod)}`;
  if (!LABEL.test(parts[0]!)) return `pod namespace ${JSON.stringify(parts[0])} is not a valid namespace name`;
  if (!SUBDOMAIN.test(parts[1]!)) return `pod name ${JSON.stringify(parts[1])} is not a valid pod name`;
  return undefined;
}

/** Validates a request body for `op`; returns the request or an error message. */
export function parseCniRequest(op: CniOp, body: unknown): CniRequest | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object';
  const { pod, netns } = body as Record<string, unknown>;
  const podErr = podRefError(pod);
  if (podErr) return podErr;
  if (netns === undefined || netns === null || netns === '') {
    if (op === 'add') return 'netns is required for add';
    return { pod: pod as string };
  }
  if (typeof netns !== 'string' || !netns.startsWith('/') || netns.includes('\0')) return `netns must be an absolute path, not ${JSON.stringify(netns)}`;
  return { pod: pod as string, netns };
}
