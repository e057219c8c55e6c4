/**
 * REST-JSON xDS on the control plane's HTTP port (15014) for the edge host (design.md 1 and 4;
 * contract: hosts/edge/config-contract.ts): `POST /v3/discovery:<type>`, a proto3-JSON
 * DiscoveryRequest in, a DiscoveryResponse out, as Envoy's REST xDS
 * (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#rest-json-polling-subscriptions).
 *
 * - `authorization: Bearer <token>`: a join token, checked by the code 15012 uses (ca/authenticate);
 *   the node it claims is checked like a stream's (`admitNode`), and a gateway's NAMESPACE/NAME/
 *   WEFT_ROLE default to its token's, so an edge host needs to send no metadata; its LABELS default
 *   to the gateway-name label of its token's Gateway, so it serves that Gateway only.
 * - The answer is the caller's ADS view (xds/proxy-views.ts via AdsServer.viewFor), never Secrets.
 * - versionInfo is a hash of what the answer holds; a request carrying the current one gets 304.
 * - Bodies are bounded (1 MB) and so is the time to read them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigIssue } from '../../../core/config/issues.ts';
import { nodeInfo, type NodeInfo, type XdsResources } from '../../../core/xds/index.ts';
import { messageFromJson } from '../../../core/xds/rest-json.ts';
import { GATEWAY_NAME_LABEL } from '../../../core/xds/l7/scope.ts';
import { REST_XDS_TYPES, type RestXdsType } from '../../edge/config-contract.ts';
import type { XdsCaller } from '../xds/connection.ts';
import { isRestXdsType, restResponse, restTypesFor, secretWarnings } from '../xds/rest-views.ts';

export const REST_XDS_PREFIX = '/v3/discovery:';
/** Answers are shared by the pollers of one view (restResponse caches them), and so is their text. */
const answerText = new WeakMap<object, string>();
const MAX_BODY = 1 << 20;

export interface RestXdsDeps {
  /** Verifies `authorization` (the whole header value): the caller, or an Error saying why not. */
  authenticate(authorization: string | undefined): XdsCaller | Error;
  /** The same check a stream's node gets on 15012; an Error refuses the request (403). */
  admitNode(node: NodeInfo, caller: XdsCaller): Error | undefined;
  /** The caller's view of the latest translation (Secrets never), undefined before the first. */
  view(node: NodeInfo, caller: XdsCaller): XdsResources | undefined;
  /** Longest wait for a request body, ms (default 10 s). */
  readTimeoutMs?: number;
  now?: () => number;
}

/** A REST poller as /debug/syncz shows it, in the shape of an ADS stream's entry (protocol `rest`). */
interface Poller {
  id: string;
  protocol: 'rest';
  peer: string;
  proxyType: string;
  connectedAt: string;
  caller: XdsCaller;
  node: NodeInfo;
  types: Record<string, { status: 'SENT'; resources: number; sentVersion: string; requestVersion: string; lastPoll: string; polls: number; notModified: number }>;
  warnings: ConfigIssue[];
  lastPollMs: number;
}

/** A poller not heard from for this long leaves /debug/syncz (edge isolates come and go, each with its node id). */
const POLLER_TTL_MS = 10 * 60_000;

export class RestXds {
  readonly #deps: RestXdsDeps;
  readonly #pollers = new Map<string, Poller>();
  #prunedAt = 0;

  constructor(deps: RestXdsDeps) {
    this.#deps = deps;
  }

  /** REST pollers for /debug/syncz: name, types with the version served and the last poll time. */
  syncz(): unknown[] {
    return [...this.#pollers.values()].map(({ warnings: _, lastPollMs: __, ...p }) => p);
  }

  /** Warnings for /debug/status: listeners of REST callers that name Secrets (served without key material). */
  warnings(): ConfigIssue[] {
    const seen = new Set<string>();
    const out: ConfigIssue[] = [];
    for (const p of this.#pollers.values()) {
      for (const w of p.warnings) {
        if (seen.has(w.message)) continue;
        seen.add(w.message);
        out.push(w);
      }
    }
    return out;
  }

  /** Serves one request whose path starts with REST_XDS_PREFIX. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendText(res, 405, 'REST xDS takes POST with a JSON DiscoveryRequest\n');
    }
    const caller = this.#deps.authenticate(header(req, 'authorization'));
    if (caller instanceof Error) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendText(res, 401, `${caller.message}\n`);
    }
    const type = path.slice(REST_XDS_PREFIX.length);
    if (!isRestXdsType(type)) return sendText(res, 400, `unknown xDS type ${JSON.stringify(type)}: one of ${Object.keys(REST_XDS_TYPES).join(', ')}\n`);
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req, MAX_BODY, this.#deps.readTimeoutMs ?? 10_000));
    } catch (err) {
      const e = err as Error & { status?: number };
      if (e.status) res.setHeader('connection', 'close'); // the rest of the body is not read
      return sendText(res, e.status ?? 400, `bad DiscoveryRequest: ${e.message}\n`);
    }
    let request: RestRequest;
    try {
      request = parseRequest(body, type);
    } catch (err) {
      return sendText(res, 400, `bad DiscoveryRequest: ${(err as Error).message}\n`);
    }
    if (!restTypesFor(caller.kind).includes(type)) return sendText(res, 403, `${type} is served to node proxies (a node token), not to a ${String(caller.kind)}\n`);
    const node = withCallerDefaults(request.node, caller);
    const refused = this.#deps.admitNode(node, caller);
    if (refused) return sendText(res, 403, `${refused.message}\n`);
    const view = this.#deps.view(node, caller);
    if (!view) return sendText(res, 503, 'the control plane has no configuration yet\n');
    const answer = restResponse(view, type, request.resourceNames);
    this.#record(req, caller, node, view, type, answer.versionInfo, answer.resources.length, request.versionInfo);
    if (request.versionInfo === answer.versionInfo) {
      res.writeHead(304, { etag: `"${answer.versionInfo}"` });
      res.end();
      return;
    }
    let text = answerText.get(answer);
    if (text === undefined) answerText.set(answer, (text = JSON.stringify(answer)));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), etag: `"${answer.versionInfo}"` });
    res.end(text);
  }

  #record(req: IncomingMessage, caller: XdsCaller, node: NodeInfo, view: XdsResources, type: RestXdsType, version: string, resources: number, requestVersion: string): void {
    const nowMs = this.#deps.now?.() ?? Date.now();
    const now = new Date(nowMs).toISOString();
    if (nowMs - this.#prunedAt > 30_000) {
      this.#prunedAt = nowMs;
      for (const [k, p] of this.#pollers) if (nowMs - p.lastPollMs > POLLER_TTL_MS) this.#pollers.delete(k);
    }
    const key = `${String(caller.kind)}:${String(caller.name)}:${node.id}`;
    let p = this.#pollers.get(key);
    if (!p) {
      p = { id: `rest-${key}`, protocol: 'rest', peer: '', proxyType: String(caller.kind ?? 'unknown'), connectedAt: now, caller, node, types: {}, warnings: [], lastPollMs: nowMs };
      this.#pollers.set(key, p);
    }
    p.node = node;
    p.lastPollMs = nowMs;
    p.peer = `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`;
    const typeUrl = REST_XDS_TYPES[type];
    const t = (p.types[typeUrl] ??= { status: 'SENT', resources: 0, sentVersion: '', requestVersion: '', lastPoll: now, polls: 0, notModified: 0 });
    t.polls++;
    if (requestVersion === version) t.notModified++;
    Object.assign(t, { resources, sentVersion: version, requestVersion, lastPoll: now });
    if (type === 'listeners' && (caller.kind === 'gateway' || caller.kind === 'waypoint')) {
      const [namespace = '', name = ''] = String(caller.name ?? '').split('/');
      p.warnings = secretWarnings(view, { kind: String(caller.kind), namespace, name });
    }
  }
}

interface RestRequest {
  node: NodeInfo;
  versionInfo: string;
  resourceNames: string[];
}

/** A proto3-JSON DiscoveryRequest (field paths in errors); its typeUrl, when given, must be the path's. */
export function parseRequest(body: unknown, type: RestXdsType): RestRequest {
  const msg = messageFromJson('envoy.service.discovery.v3.DiscoveryRequest', body, 'DiscoveryRequest') as {
    versionInfo?: string;
    node?: Parameters<typeof nodeInfo>[0];
    resourceNames?: string[];
    typeUrl?: string;
  };
  if (msg.typeUrl && msg.typeUrl !== REST_XDS_TYPES[type]) throw new Error(`typeUrl ${msg.typeUrl} is not ${type}'s (${REST_XDS_TYPES[type]})`);
  return { node: nodeInfo(msg.node), versionInfo: msg.versionInfo ?? '', resourceNames: msg.resourceNames ?? [] };
}

/**
 * A gateway's or waypoint's role and name come from its token when its node does not say them (the
 * edge host need not know Weft's metadata); a node proxy's NODE_NAME likewise.
 */
function withCallerDefaults(node: NodeInfo, caller: XdsCaller): NodeInfo {
  const md = { ...node.metadata };
  if ((caller.kind === 'gateway' || caller.kind === 'waypoint') && md['WEFT_ROLE'] === undefined && typeof caller.name === 'string') {
    const [namespace = '', name = ''] = caller.name.split('/');
    md['WEFT_ROLE'] = caller.kind;
    md['NAMESPACE'] ??= namespace;
    md['NAME'] ??= name;
    // Without labels an L7 proxy serves every Gateway API Gateway (ADS's rule for `weft gateway`);
    // an edge host serves the one its token names, unless it sends LABELS (e.g. istio=ingressgateway).
    md['LABELS'] ??= { [GATEWAY_NAME_LABEL]: name };
  }
  if (caller.kind === 'node' && md['NODE_NAME'] === undefined && typeof caller.name === 'string') md['NODE_NAME'] = caller.name;
  return { ...node, id: node.id || `${String(caller.kind)}~${String(caller.name)}`, metadata: md };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The body as text: 413 past `limit` bytes, 408 when it takes longer than `timeoutMs`. */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(Object.assign(new Error(`body larger than ${limit} bytes`), { status: 413 }));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (err: Error & { status?: number }): void => {
      cleanup();
      req.resume(); // drain what is left; the response closes the exchange
      reject(err);
    };
    const timer = setTimeout(() => fail(Object.assign(new Error(`body not received within ${timeoutMs} ms`), { status: 408 })), timeoutMs);
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) fail(Object.assign(new Error(`body larger than ${limit} bytes`), { status: 413 }));
      else chunks.push(c);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error): void => fail(err);
    const cleanup = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
