/**
 * envoy.filters.http.ext_authz over HTTP (http_service), compiled once per config version: whether
 * it runs for a request (filter_enabled_metadata: istiod enables it from the RBAC shadow result of
 * the CUSTOM policies), the check request (the original method, `path_prefix` + the original path,
 * the original Host, `content-length: 0`, the headers `allowed_headers` lets through plus
 * Authorization, and `authorization_request.headers_to_add`) and the reading of the answer: 200 ->
 * allowed, with `allowed_upstream_headers` of the answer set on the request (none by default); any
 * other status -> denied with the authorizer's status, body and `allowed_client_headers` (all but
 * Host and framing headers by default); no answer -> `status_on_error` (403) unless
 * `failure_mode_allow`. Envoy's semantics (extensions/filters/common/ext_authz/ext_authz_http_impl).
 * Pure: the host sends the request.
 */
import type { envoy } from '../xds/generated/xds-pb.js';
import { durationMs, set } from '../route/proto.ts';
import { compileStringMatcher, type StringMatch } from '../route/string-matcher.ts';
import { RouteCompileError } from '../route/types.ts';
import { compileRbacFilter, type L7Matcher } from './l7-rbac.ts';
import type { L7AuthzRequest } from './l7-request.ts';

type ExtAuthzProto = envoy.extensions.filters.http.ext_authz.v3.ExtAuthz.$Properties;
type ListStringMatcherProto = envoy.type.matcher.v3.ListStringMatcher.$Properties;

class HeaderList {
  constructor(readonly list: readonly StringMatch[]) {}
  has(name: string): boolean {
    for (const m of this.list) if (m.match(name)) return true;
    return false;
  }
}

function headerList(l: ListStringMatcherProto | null | undefined, path: string): HeaderList | undefined {
  if (!set(l)) return undefined;
  return new HeaderList((l.patterns ?? []).map((p, i) => compileStringMatcher(p, `${path}.patterns[${i}]`)));
}

/** Headers never copied from an authorizer's answer. */
const NOT_PASSED = new Set(['host', ':authority', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'server']);
/** Headers always sent in the check request (besides allowed_headers). */
const ALWAYS_SENT = new Set(['authorization']);

export interface CheckRequest {
  method: string;
  path: string;
  authority: string;
  /** Flat [name, value, ...]. */
  headers: string[];
}

export type ExtAuthzDecision =
  | { allowed: true; upstream: string[] | undefined; downstream: string[] | undefined }
  | { allowed: false; status: number; headers: string[]; body: string };

export class ExtAuthz {
  constructor(
    readonly cluster: string,
    readonly uri: string,
    readonly timeoutMs: number,
    readonly pathPrefix: string,
    readonly allowedHeaders: HeaderList | undefined,
    readonly headersToAdd: readonly string[],
    readonly allowedUpstream: HeaderList | undefined,
    readonly allowedClient: HeaderList | undefined,
    readonly allowedClientOnSuccess: HeaderList | undefined,
    readonly failureModeAllow: boolean,
    readonly statusOnError: number,
    readonly enabled: L7Matcher | undefined,
  ) {}

  /** filter_enabled_metadata: runs only for requests a CUSTOM policy's shadow rule marked. */
  appliesTo(r: L7AuthzRequest): boolean {
    return this.enabled === undefined || this.enabled.matches(r);
  }

  checkRequest(r: L7AuthzRequest): CheckRequest {
    const req = r.req;
    const headers: string[] = ['content-length', '0'];
    const allowed = this.allowedHeaders;
    if (allowed !== undefined || ALWAYS_SENT.size) {
      for (const name of ALWAYS_SENT) {
        const v = req.header(name);
        if (v !== undefined) headers.push(name, v);
      }
    }
    if (allowed !== undefined) for (const name of headerNames(r)) if (!ALWAYS_SENT.has(name) && name !== 'host' && name !== 'content-length' && allowed.has(name)) headers.push(name, req.header(name)!);
    for (let i = 0; i < this.headersToAdd.length; i += 2) headers.push(this.headersToAdd[i]!, this.headersToAdd[i + 1]!);
    return { method: req.method, path: this.pathPrefix + req.target, authority: req.authority, headers };
  }

  /** The authorizer's answer (headers flat, lower-case names). */
  decide(status: number, headers: readonly string[], body: string): ExtAuthzDecision {
    if (status === 200) {
      let upstream: string[] | undefined;
      let downstream: string[] | undefined;
      for (let i = 0; i < headers.length; i += 2) {
        const n = headers[i]!;
        if (NOT_PASSED.has(n)) continue;
        if (this.allowedUpstream?.has(n)) (upstream ??= []).push(n, headers[i + 1]!);
        if (this.allowedClientOnSuccess?.has(n)) (downstream ??= []).push(n, headers[i + 1]!);
      }
      return { allowed: true, upstream, downstream };
    }
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      if (NOT_PASSED.has(n)) continue;
      if (this.allowedClient === undefined || this.allowedClient.has(n)) out.push(n, headers[i + 1]!);
    }
    return { allowed: false, status: status || 403, headers: out, body };
  }

  /** No answer (connection failure, timeout). */
  failed(): ExtAuthzDecision {
    return this.failureModeAllow ? { allowed: true, upstream: undefined, downstream: undefined } : { allowed: false, status: this.statusOnError, headers: [], body: '' };
  }
}

function headerNames(r: L7AuthzRequest): string[] {
  const list = r.headerList;
  if (!list) return [];
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (!out.includes(list[i]!)) out.push(list[i]!);
  return out;
}

export function compileExtAuthz(cfg: ExtAuthzProto, path: string): ExtAuthz {
  const svc = cfg.httpService;
  if (!set(svc)) throw new RouteCompileError(path, 'only http_service is supported (grpc_service is not)');
  const uri = svc.serverUri;
  if (!uri?.uri) throw new RouteCompileError(`${path}.http_service.server_uri`, 'uri is required');
  const add: string[] = [];
  for (const h of svc.authorizationRequest?.headersToAdd ?? []) add.push((h.key ?? '').toLowerCase(), h.value ?? '');
  const resp = svc.authorizationResponse;
  let enabled: L7Matcher | undefined;
  if (set(cfg.filterEnabledMetadata)) {
    // Reuse the RBAC metadata matcher: a principal { metadata } evaluates the same way.
    const rbac = compileRbacFilter({ rules: { action: 0, policies: { m: { permissions: [{ any: true }], principals: [{ metadata: cfg.filterEnabledMetadata }] } } } }, `${path}.filter_enabled_metadata`);
    const policy = rbac.rules!.policies[0]!;
    enabled = { matches: (r) => policy.matches(r) };
  }
  return new ExtAuthz(
    uri.cluster ?? '',
    uri.uri,
    durationMs(uri.timeout, 200),
    svc.pathPrefix ?? '',
    headerList(cfg.allowedHeaders, `${path}.allowed_headers`) ?? headerList(svc.authorizationRequest?.allowedHeaders, `${path}.http_service.authorization_request.allowed_headers`),
    add,
    headerList(resp?.allowedUpstreamHeaders, `${path}.http_service.authorization_response.allowed_upstream_headers`),
    headerList(resp?.allowedClientHeaders, `${path}.http_service.authorization_response.allowed_client_headers`),
    headerList(resp?.allowedClientHeadersOnSuccess, `${path}.http_service.authorization_response.allowed_client_headers_on_success`),
    cfg.failureModeAllow === true,
    set(cfg.statusOnError) && cfg.statusOnError.code ? cfg.statusOnError.code : 403,
    enabled,
  );
}
