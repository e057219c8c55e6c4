/**
 * The test-case format of `weft plugin test DIR`: a plugin directory's `plugin.test.ts` default-exports
 * a PluginTests value. The cases run against the built component (not the TypeScript source), through
 * the same host runtime a proxy uses, so what passes here is what a gateway will do.
 *
 *   export default { config: { requestsPerSecond: 1 }, cases: [ { name, request, expect } ] } satisfies PluginTests;
 */

/** A request as the filter sees it; headers are lower-case names (one value each). */
export interface TestRequest {
  method?: string; // default GET
  scheme?: string; // default http
  authority?: string; // default example.com
  path?: string; // default /
  headers?: Record<string, string>;
  /** SPIFFE id of the peer; default "" (plaintext) */
  sourcePrincipal?: string;
  /** "ip:port"; default 127.0.0.1:50000 */
  sourceAddress?: string;
  /** makes the request-body phase run (when the plugin wants it), in one piece */
  body?: string;
}

export interface TestResponse {
  status: number;
  headers?: Record<string, string>;
  /** makes the response-body phase run (when the plugin wants it), in one piece */
  body?: string;
}

export interface HttpFilterCase {
  name: string;
  /** replaces the file-level config for this case */
  config?: unknown;
  request: TestRequest;
  /** when given, the response phases run after the request phases continue */
  response?: TestResponse;
  /** send the request this many times on the same instance (rate limits); expect applies to the last */
  repeat?: number;
  expect: {
    action?: 'continue' | 'respond' | 'route' | 'cluster';
    /** respond: the direct response's status and body */
    status?: number;
    body?: string;
    /** route / cluster: the name chosen */
    route?: string;
    cluster?: string;
    /** headers after the plugin ran; null: must be absent */
    requestHeaders?: Record<string, string | null>;
    responseHeaders?: Record<string, string | null>;
  };
}

export interface L4PolicyCase {
  name: string;
  config?: unknown;
  connection: {
    sourcePrincipal?: string;
    destinationPrincipal?: string;
    sourceAddress?: string;
    sourcePort?: number;
    destinationAddress?: string;
    destinationPort?: number;
  };
  expect: { decision: 'allow' | 'deny' };
}

export interface EndpointPickerCase {
  name: string;
  config?: unknown;
  request?: TestRequest;
  candidates: { address: string; labels?: Record<string, string>; metrics?: Record<string, number> }[];
  /** the candidates' indices, best first ([] = leave it to the balancer) */
  expect: { order: number[] };
}

export interface PluginTests {
  /** the plugin's config (pluginConfig) for every case that does not set its own */
  config?: unknown;
  cases: (HttpFilterCase | L4PolicyCase | EndpointPickerCase)[];
}
