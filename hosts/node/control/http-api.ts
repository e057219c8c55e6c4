/**
 * The control plane's HTTP port (15014): /metrics (Prometheus), /debug/configz (the current
 * MeshSnapshot), /debug/syncz (each connected proxy and what it holds), /debug/status (config
 * errors, warnings, NACKs, and where each WasmPlugin is applied), /version ({version}, what `weft version` prints) and /ready. Read-only; it never serves keys or Secrets' data.
 * Also REST-JSON xDS for the edge host, `POST /v3/discovery:<type>` (rest-xds.ts; token required, never Secrets).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { MeshSnapshot } from '../../../core/config/snapshot.ts';
import { formatIssue } from '../../../core/config/issues.ts';
import type { ConfigIssue } from '../../../core/config/issues.ts';
import { gatewayApiModel, type GatewayApiStatus } from '../../../core/config/gateway-api-status.ts';
import type { ControlMetrics } from './metrics.ts';
import { WEFT_VERSION } from '../version.ts';
import { pluginStatus } from './plugin-status.ts';
import { REST_XDS_PREFIX, type RestXds } from './rest-xds.ts';

export interface HttpApiDeps {
  snapshot: () => MeshSnapshot | undefined;
  syncz: () => unknown[];
  metrics: ControlMetrics;
  /** True once config is loaded and the gRPC ports listen. */
  ready: () => boolean;
  /** Warnings of the latest xDS translation (unsupported L7 fields, policies node proxies cannot enforce). */
  xdsWarnings?: () => readonly ConfigIssue[];
  /** REST-JSON xDS for the edge host (`POST /v3/discovery:<type>`); absent: 404. */
  restXds?: RestXds;
}

const ENDPOINTS = ['/', '/debug', '/metrics', '/debug/configz', '/debug/syncz', '/debug/status', '/version', '/ready'];

export function createHttpApi(deps: HttpApiDeps): Server {
  return createServer((req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      send(res, 500, 'text/plain', `internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });
}

async function handle(deps: HttpApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (deps.restXds && path.startsWith(REST_XDS_PREFIX)) return deps.restXds.handle(req, res, path);
  if (req.method !== 'GET' && req.method !== 'HEAD') return ENDPOINTS.includes(path) ? send(res, 405, 'text/plain', 'method not allowed\n') : send(res, 404, 'text/plain', `no such endpoint: ${path}\n`);
  switch (path) {
    case '/ready':
      return deps.ready() ? send(res, 200, 'text/plain', 'ready\n') : send(res, 503, 'text/plain', 'not ready\n');
    case '/metrics':
      return send(res, 200, deps.metrics.registry.contentType, await deps.metrics.registry.metrics());
    case '/debug/configz':
      return sendJson(res, configz(deps.snapshot()));
    case '/debug/syncz':
      return sendJson(res, deps.syncz());
    case '/debug/status':
      return sendJson(res, status(deps.snapshot(), deps.syncz(), deps.xdsWarnings?.() ?? []));
    case '/version':
      return sendJson(res, { version: WEFT_VERSION });
    case '/':
    case '/debug':
      return sendJson(res, { endpoints: [...ENDPOINTS.slice(2), ...(deps.restXds ? [`POST ${REST_XDS_PREFIX}<type>`] : [])] });
    default:
      return send(res, 404, 'text/plain', `no such endpoint: ${path}\n`);
  }
}

/** The snapshot as JSON; Secret payloads are redacted (15014 never serves key material). */
export function configz(snap: MeshSnapshot | undefined): unknown {
  if (!snap) return { version: 0, loaded: false };
  const resources: Record<string, unknown[]> = {};
  for (const [kind, list] of snap.resources) {
    resources[kind] = list.map((r) => (kind === 'Secret' ? { ...r, extra: { redacted: true } } : r));
  }
  return {
    version: snap.version,
    mesh: snap.mesh,
    namespaces: [...snap.namespaces.values()],
    services: snap.services,
    workloads: snap.workloads,
    resources,
  };
}

const gatewayStatusCache = new WeakMap<MeshSnapshot, GatewayApiStatus>();

/** Gateway API status of a snapshot (GatewayClass, Gateway, listener and route parent conditions), computed once per snapshot. */
export function gatewayApiStatus(snap: MeshSnapshot): GatewayApiStatus {
  let st = gatewayStatusCache.get(snap);
  if (!st) gatewayStatusCache.set(snap, (st = gatewayApiModel(snap).status));
  return st;
}

function status(snap: MeshSnapshot | undefined, syncz: unknown[], xdsWarnings: readonly ConfigIssue[]): unknown {
  const issues = [...(snap?.issues ?? []), ...xdsWarnings];
  return {
    version: snap?.version ?? 0,
    errors: issues.filter((i) => i.severity === 'error').map((i) => ({ ...i, text: formatIssue(i) })),
    warnings: issues.filter((i) => i.severity === 'warning').map((i) => ({ ...i, text: formatIssue(i) })),
    nacks: syncz.flatMap((p) => nacksOf(p)),
    // Per WasmPlugin: the proxies it is delivered to and whether each ACKed or NACKed it.
    plugins: pluginStatus(snap, syncz),
    gatewayApi: snap ? gatewayApiStatus(snap) : { gatewayClasses: [], gateways: [], routes: [] },
  };
}

function nacksOf(proxy: unknown): unknown[] {
  const p = proxy as { id?: string; types?: Record<string, { lastNack?: unknown }> };
  if (!p.types) return [];
  return Object.entries(p.types)
    .filter(([, t]) => t.lastNack)
    .map(([type, t]) => ({ proxy: p.id, type, nack: t.lastNack }));
}

function sendJson(res: ServerResponse, body: unknown): void {
  send(res, 200, 'application/json', JSON.stringify(body, null, 2) + '\n');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
