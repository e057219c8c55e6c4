/**
 * What every part of the plugins bench shares: the built-ins' configs, the request and response a
 * filter sees, the L4 connection, and a binding as the control plane delivers it. Runtime-neutral
 * (no `node:` import, no Buffer): the in-process edge measurements load this on Deno and workerd.
 */
import type { L4Connection, PluginBinding, PluginKind } from '../../../core/plugin/contract.ts';

/**
 * `one` is header-rewrite: the most common kind of filter (headers in, headers out), touching the
 * request (a header from a template) and the response (a constant header, as Istio's
 * VirtualService `headers.response` are). Its constant response rule is asked for in the request
 * phase, so it costs one guest call per request. (rate-limit is called once per request and mostly
 * exercises the KV.)
 */
export const REWRITE_CONFIG = {
  request: { set: { 'x-client': '${header.user-agent}' } },
  response: { set: { 'x-bench': 'rewritten' } },
};
/**
 * `one2`: the same plugin with a response rule that reads the response (`${response.status}`), so
 * it is called in both header phases: the cost of a filter that must see the response.
 */
export const REWRITE_TWO_PHASE_CONFIG = {
  request: { set: { 'x-client': '${header.user-agent}' } },
  response: { set: { 'x-bench': 'rewritten', 'x-status': '${response.status}' } },
};
/** never denies: the bench measures the cost of the check, not of refusals */
export const RATE_LIMIT_CONFIG = { requestsPerSecond: 1e9, burst: 1e9 };
/** no request names a variant: every request reads the header and the cookie and goes on to its route */
export const AB_ROUTER_CONFIG = { header: 'x-variant', cookie: 'variant', variants: { beta: { route: 'beta' } } };

export const BUILTINS = ['header-rewrite', 'rate-limit', 'ab-router', 'jwt-claims', 'l4-allow-list'] as const;
export type Builtin = (typeof BUILTINS)[number];

const b64url = (s: string) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
/** an (unsigned: jwt-claims does not verify) token, as a client would send it on every request */
const JWT = `${b64url('{"alg":"RS256","typ":"JWT"}')}.${b64url(JSON.stringify({ sub: 'ada', email: 'ada@example.com', realm_access: { roles: ['dev'] } }))}.c2ln`;

export const SPECS: Record<Builtin, { kind: PluginKind; config: unknown }> = {
  'header-rewrite': { kind: 'http-filter', config: REWRITE_CONFIG },
  'rate-limit': { kind: 'http-filter', config: RATE_LIMIT_CONFIG },
  'ab-router': { kind: 'http-filter', config: AB_ROUTER_CONFIG },
  'jwt-claims': { kind: 'http-filter', config: { claims: { sub: 'x-user', email: 'x-user-email', 'realm_access.roles': 'x-user-roles' } } },
  'l4-allow-list': { kind: 'l4-policy', config: { principals: ['spiffe://cluster.local/ns/demo/sa/api', 'spiffe://cluster.local/ns/batch/*'], cidrs: ['10.20.0.0/16'] } },
};

/** a request as wrk's arrives, plus a token for jwt-claims */
export const REQUEST = {
  method: 'GET',
  path: '/api/items?id=1',
  authority: 'bench.local',
  headers: { 'user-agent': 'wrk', accept: '*/*', authorization: `Bearer ${JWT}` },
  sourcePrincipal: 'spiffe://cluster.local/ns/demo/sa/api',
  sourceAddress: '10.20.1.7:40000',
};
export const RESPONSE = { status: 200, headers: { 'content-type': 'text/plain', 'content-length': '20' } };
export const CONN: L4Connection = {
  sourcePrincipal: 'spiffe://cluster.local/ns/batch/sa/etl',
  destinationPrincipal: 'spiffe://cluster.local/ns/demo/sa/db',
  sourceAddress: '10.20.1.7',
  sourcePort: 40000,
  destinationAddress: '10.20.2.9',
  destinationPort: 5432,
};

export function binding(name: string, url: string, kind: PluginKind, config: unknown): PluginBinding {
  return { name, kind, url, phase: 'UNSPECIFIED_PHASE', priority: 0, failStrategy: 'FAIL_CLOSE', config: JSON.stringify(config), ports: [], workloads: [] };
}
