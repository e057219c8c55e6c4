/**
 * networking.istio.io VirtualService (v1alpha3, v1beta1, v1 share it), Istio 1.29: the CRD's fields and
 * CEL rules plus the checks istiod's Go validation makes (one action per HTTP route, weights, status
 * codes, retryOn policies, regexes).
 */
import * as z from './zod.ts';
import { StringMatch, bool, cidr, duration, intRange, ipOrCidr, labelMap, port, regex, stringList, uint32 } from './common.ts';
import { Destination, Headers, Percent, exportTo, istioHost, istioHostProblem } from './istio-common.ts';

const HTTPMatchRequest = z.strictObject({
  name: z.string().optional(),
  uri: StringMatch.optional(),
  scheme: StringMatch.optional(),
  method: StringMatch.optional(),
  authority: StringMatch.optional(),
  headers: z.record(z.string(), StringMatch).optional(),
  port: port().optional(),
  sourceLabels: labelMap().optional(),
  gateways: stringList().optional(),
  queryParams: z.record(z.string(), StringMatch).optional(),
  ignoreUriCase: bool().optional(),
  withoutHeaders: z.record(z.string(), StringMatch).optional(),
  sourceNamespace: z.string().optional(),
  statPrefix: z.string().optional(),
});

const HTTPRouteDestination = z.strictObject({
  destination: Destination,
  weight: intRange(0, 100).optional(),
  headers: Headers.optional(),
});

const HTTPRedirect = z
  .strictObject({
    uri: z.string().optional(),
    authority: z.string().optional(),
    port: port().optional(),
    derivePort: z.enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
    scheme: z.string().optional(),
    redirectCode: z.int().min(300, 'must be a 3xx code').max(399, 'must be a 3xx code').optional(),
  })
  .superRefine((r, ctx) => {
    if (r.port !== undefined && r.derivePort !== undefined) ctx.addIssue({ code: 'custom', message: 'only one of port, derivePort may be set' });
  });

const HTTPDirectResponse = z.strictObject({
  status: intRange(200, 599),
  body: z
    .strictObject({ string: z.string().optional(), bytes: z.string().optional() })
    .superRefine((b, ctx) => {
      if (b.string !== undefined && b.bytes !== undefined) ctx.addIssue({ code: 'custom', message: 'only one of string, bytes may be set' });
    })
    .optional(),
});

const HTTPRewrite = z
  .strictObject({
    uri: z.string().optional(),
    authority: z.string().optional(),
    uriRegexRewrite: z.strictObject({ match: regex(), rewrite: z.string() }).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.uri !== undefined && r.uriRegexRewrite !== undefined) ctx.addIssue({ code: 'custom', message: 'only one of uri, uriRegexRewrite may be set' });
  });

/** Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on policies; a bare status code is accepted too. */
const RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);

const HTTPRetry = z.strictObject({
  attempts: z.int().min(0, 'must be 0 or more').optional(),
  perTryTimeout: duration().optional(),
  retryOn: z
    .string()
    .superRefine((s, ctx) => {
      for (const p of s.split(',').map((x) => x.trim())) {
        if (!RETRY_ON.has(p) && !/^[1-5][0-9]{2}$/.test(p)) ctx.addIssue({ code: 'custom', message: `"${p}" is not a retryOn policy (e.g. 5xx, connect-failure, reset, or a status code)` });
      }
    })
    .optional(),
  retryRemoteLocalities: bool().optional(),
  retryIgnorePreviousHosts: bool().optional(),
  backoff: duration().optional(),
});

const HTTPFaultInjection = z.strictObject({
  delay: z
    .strictObject({
      fixedDelay: duration().optional(),
      exponentialDelay: duration().optional(),
      percentage: Percent.optional(),
      percent: intRange(0, 100).optional(),
    })
    .superRefine((d, ctx) => {
      if ((d.fixedDelay === undefined) === (d.exponentialDelay === undefined)) ctx.addIssue({ code: 'custom', message: 'exactly one of fixedDelay, exponentialDelay must be set' });
    })
    .optional(),
  abort: z
    .strictObject({
      httpStatus: intRange(200, 599).optional(),
      grpcStatus: z.string().optional(),
      http2Error: z.string().optional(),
      percentage: Percent.optional(),
    })
    .superRefine((a, ctx) => {
      const n = [a.httpStatus, a.grpcStatus, a.http2Error].filter((x) => x !== undefined).length;
      if (n !== 1) ctx.addIssue({ code: 'custom', message: 'exactly one of httpStatus, grpcStatus, http2Error must be set' });
    })
    .optional(),
});

const CorsPolicy = z.strictObject({
  allowOrigins: z.array(StringMatch).optional(),
  allowOrigin: stringList().optional(),
  allowMethods: z.array(z.enum(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'])).optional(),
  allowHeaders: stringList().optional(),
  exposeHeaders: stringList().optional(),
  maxAge: duration().optional(),
  allowCredentials: bool().optional(),
  unmatchedPreflights: z.enum(['UNSPECIFIED', 'FORWARD', 'IGNORE']).optional(),
});

const HTTPRoute = z
  .strictObject({
    name: z.string().optional(),
    match: z.array(HTTPMatchRequest).optional(),
    route: z.array(HTTPRouteDestination).optional(),
    redirect: HTTPRedirect.optional(),
    directResponse: HTTPDirectResponse.optional(),
    delegate: z.strictObject({ name: z.string().optional(), namespace: z.string().optional() }).optional(),
    rewrite: HTTPRewrite.optional(),
    timeout: duration().optional(),
    retries: HTTPRetry.optional(),
    fault: HTTPFaultInjection.optional(),
    mirror: Destination.optional(),
    mirrors: z.array(z.strictObject({ destination: Destination, percentage: Percent.optional() })).optional(),
    mirrorPercent: uint32().optional(),
    mirror_percent: uint32().optional(),
    mirrorPercentage: Percent.optional(),
    corsPolicy: CorsPolicy.optional(),
    headers: Headers.optional(),
  })
  .superRefine((r, ctx) => {
    const actions = (['route', 'redirect', 'directResponse', 'delegate'] as const).filter((k) =>
      k === 'route' ? (r.route?.length ?? 0) > 0 : r[k] !== undefined,
    );
    if (actions.length === 0) ctx.addIssue({ code: 'custom', message: 'one of route, redirect, directResponse or delegate is required' });
    if (actions.length > 1) ctx.addIssue({ code: 'custom', message: `only one of route, redirect, directResponse, delegate may be set (found ${actions.join(', ')})` });
    if (r.rewrite && r.redirect) ctx.addIssue({ code: 'custom', path: ['rewrite'], message: 'cannot be set together with redirect' });
    if (r.mirror && r.mirrors) ctx.addIssue({ code: 'custom', path: ['mirrors'], message: 'cannot be set together with mirror' });
  });

const TLSMatchAttributes = z.strictObject({
  sniHosts: z.array(istioHost()).min(1, 'must have at least one host'),
  destinationSubnets: z.array(ipOrCidr()).optional(),
  port: port().optional(),
  sourceLabels: labelMap().optional(),
  gateways: stringList().optional(),
  sourceNamespace: z.string().optional(),
});
const RouteDestination = z.strictObject({ destination: Destination, weight: intRange(0, 100).optional() });
const TLSRoute = z.strictObject({
  match: z.array(TLSMatchAttributes).min(1, 'must have at least one match'),
  route: z.array(RouteDestination).min(1, 'must have at least one route').optional(),
});
const L4MatchAttributes = z.strictObject({
  destinationSubnets: z.array(ipOrCidr()).optional(),
  port: port().optional(),
  sourceLabels: labelMap().optional(),
  gateways: stringList().optional(),
  sourceNamespace: z.string().optional(),
  sourceSubnet: cidr().optional(),
});
const TCPRoute = z.strictObject({
  match: z.array(L4MatchAttributes).optional(),
  route: z.array(RouteDestination).min(1, 'must have at least one route').optional(),
});

const gatewayRef = () =>
  z.string().superRefine((s, ctx) => {
    if (s === 'mesh') return;
    const [ns, name, more] = s.split('/');
    const bad = more !== undefined || (name !== undefined && (!ns || !name)) || s === '';
    if (bad) ctx.addIssue({ code: 'custom', message: `"${s}" must be "mesh", a Gateway name or namespace/name` });
  });

export const VirtualServiceSpec = z
  .strictObject({
    hosts: stringList().optional(),
    gateways: z.array(gatewayRef()).optional(),
    http: z.array(HTTPRoute).optional(),
    tls: z.array(TLSRoute).optional(),
    tcp: z.array(TCPRoute).optional(),
    exportTo: exportTo(),
  })
  .superRefine((s, ctx) => {
    const meshBound = !s.gateways || s.gateways.length === 0 || s.gateways.includes('mesh');
    (s.hosts ?? []).forEach((h, i) => {
      const p = istioHostProblem(h);
      if (p) ctx.addIssue({ code: 'custom', path: ['hosts', i], message: p });
      else if (h === '*' && meshBound) ctx.addIssue({ code: 'custom', path: ['hosts', i], message: 'the wildcard host * is not allowed for a VirtualService bound to the mesh (set gateways)' });
    });
    if (!s.http?.length && !s.tls?.length && !s.tcp?.length) ctx.addIssue({ code: 'custom', message: 'one of http, tls or tcp must be provided' });
  });

export type VirtualServiceSpec = z.output<typeof VirtualServiceSpec>;
export type VirtualServiceHTTPRoute = z.output<typeof HTTPRoute>;
