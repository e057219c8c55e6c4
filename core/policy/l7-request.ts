/**
 * What the L7 authorization filters (RBAC, jwt_authn, ext_authz) see of one request: the router's
 * RouteRequest (method, authority, target, headers by name), the connection's facts (peer address,
 * destination port, the peer's SPIFFE id when it came over mTLS/HBONE) and the dynamic metadata the
 * filters hand each other (jwt_authn's verified payload, the RBAC shadow result ext_authz is enabled
 * by). One object per request, made only when a filter chain has such filters: a policy-free
 * chain never builds it.
 */
import type { RouteRequest } from '../route/types.ts';
import { ipBytes } from './match.ts';

export const JWT_AUTHN_FILTER = 'envoy.filters.http.jwt_authn';
export const RBAC_FILTER = 'envoy.filters.http.rbac';

export class L7AuthzRequest {
  /** jwt_authn's dynamic metadata (`{payload: {...claims}}` under `payload_in_metadata`). */
  jwtMetadata: Record<string, unknown> | undefined;
  /** RBAC's dynamic metadata (`<prefix>shadow_effective_policy_id`, `<prefix>shadow_engine_result`). */
  rbacMetadata: Record<string, unknown> | undefined;
  /** Headers to set on the request going upstream (jwt_authn's payload/claim headers, ext_authz's allowed headers), flat. */
  upstreamSet: string[] | undefined;
  /** Headers to remove before it goes upstream (the token, when not forwarded). */
  upstreamRemove: string[] | undefined;
  #direct: Uint8Array | null | undefined;
  #remote: Uint8Array | null | undefined;
  /** The local address the request arrived on (a waypoint: the service VIP); undefined never matches a destination_ip rule. */
  destinationIp: string | undefined;
  /** The request's fields flat `[name, value, ...]` (lower-case names), for ext_authz's allowed_headers. */
  headerList: readonly string[] | undefined;

  constructor(
    readonly req: RouteRequest,
    /** The downstream peer's address (`direct_remote_ip`). */
    readonly directRemoteIp: string,
    /** The original client (`remote_ip`): the peer on an edge proxy (use_remote_address), else the last x-forwarded-for entry. */
    readonly remoteIp: string,
    readonly destinationPort: number,
    /** The peer's URI SAN (`spiffe://td/ns/x/sa/y`) when the connection was mTLS, else undefined. */
    readonly peerPrincipal: string | undefined,
    /** TLS SNI, when the listener terminated TLS. */
    readonly sni: string | undefined,
  ) {}

  directBytes(): Uint8Array | undefined {
    if (this.#direct === undefined) this.#direct = ipBytes(this.directRemoteIp) ?? null;
    return this.#direct ?? undefined;
  }

  remoteBytes(): Uint8Array | undefined {
    if (this.#remote === undefined) this.#remote = ipBytes(this.remoteIp) ?? null;
    return this.#remote ?? undefined;
  }

  destinationBytes(): Uint8Array | undefined {
    return this.destinationIp === undefined ? undefined : ipBytes(this.destinationIp);
  }

  /** The path without query or fragment (RBAC `url_path`). */
  path(): string {
    const t = this.req.target;
    let end = t.length;
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c === 63 || c === 35) {
        end = i;
        break;
      }
    }
    return end === t.length ? t : t.slice(0, end);
  }

  metadata(filter: string): Record<string, unknown> | undefined {
    return filter === JWT_AUTHN_FILTER ? this.jwtMetadata : filter === RBAC_FILTER ? this.rbacMetadata : undefined;
  }

  setUpstream(name: string, value: string): void {
    (this.upstreamSet ??= []).push(name, value);
  }

  removeUpstream(name: string): void {
    (this.upstreamRemove ??= []).push(name);
  }
}

/** The original client address as Envoy derives it: the peer with use_remote_address, else the rightmost x-forwarded-for entry. */
export function remoteAddressOf(req: RouteRequest, peer: string, useRemoteAddress: boolean): string {
  if (useRemoteAddress) return peer;
  const xff = req.header('x-forwarded-for');
  if (xff === undefined) return peer;
  const comma = xff.lastIndexOf(',');
  const last = (comma < 0 ? xff : xff.slice(comma + 1)).trim();
  return last || peer;
}
