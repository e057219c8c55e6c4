/**
 * gateway.networking.k8s.io HTTPRoute and GRPCRoute, Gateway API v1.4 standard channel: matches,
 * filters, backendRefs, timeouts, with the CRDs' defaults (PathPrefix "/", weight 1, kind Service)
 * and CEL rules (filter/type agreement, redirect vs backendRefs, path value rules).
 */
import * as z from './zod.ts';
import { lazy } from './lazy.ts';
import { HEADER_NAME, gatewayDuration, group, intRange, kind, objectName } from './common.ts';
import { BackendObjectReference, ParentReference, backendRefShape, gatewayHostname, needsServicePort, sectionName } from './gateway-api.ts';
import { parseGatewayDuration } from './duration.ts';
import { checkRegex } from './regex.ts';

const headerName = () => z.string().min(1).max(256).regex(HEADER_NAME, 'must be a valid HTTP header name');
const HTTPHeader = z.strictObject({ name: headerName(), value: z.string().min(1, 'must not be empty').max(4096) });
const HeaderModifier = z.strictObject({
  set: z.array(HTTPHeader).max(16).optional(),
  add: z.array(HTTPHeader).max(16).optional(),
  remove: z.array(z.string()).max(16).optional(),
});

const matchValue = <T extends { type: string; value: string }>(m: T, ctx: z.core.$RefinementCtx<T>) => {
  if (m.type === 'RegularExpression') {
    const p = checkRegex(m.value);
    if (p) ctx.addIssue({ code: 'custom', path: ['value'], message: p });
  }
};
const HeaderMatch = z
  .strictObject({ type: z.enum(['Exact', 'RegularExpression']).default('Exact'), name: headerName(), value: z.string().min(1).max(4096) })
  .superRefine(matchValue);

const PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/;
function pathProblem(value: string): string | undefined {
  if (!value.startsWith('/')) return 'must be an absolute path and start with /';
  for (const bad of ['//', '/./', '/../', '%2f', '%2F', '#']) if (value.includes(bad)) return `must not contain '${bad}'`;
  if (value.endsWith('/..') || value.endsWith('/.')) return "must not end with '/..' or '/.'";
  if (!PATH_CHARS.test(value)) return 'must only contain valid path characters';
  return undefined;
}

const HTTPPathMatch = z
  .strictObject({ type: z.enum(['Exact', 'PathPrefix', 'RegularExpression']).default('PathPrefix'), value: z.string().max(1024).default('/') })
  .superRefine((m, ctx) => {
    const p = m.type === 'RegularExpression' ? checkRegex(m.value) : pathProblem(m.value);
    if (p) ctx.addIssue({ code: 'custom', path: ['value'], message: p });
  });

const HTTPRouteMatch = z.strictObject({
  path: HTTPPathMatch.prefault({}),
  headers: z.array(HeaderMatch).max(16).optional(),
  queryParams: z
    .array(z.strictObject({ type: z.enum(['Exact', 'RegularExpression']).default('Exact'), name: headerName(), value: z.string().min(1).max(1024) }).superRefine(matchValue))
    .max(16)
    .optional(),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']).optional(),
});

const PathModifier = z
  .strictObject({
    type: z.enum(['ReplaceFullPath', 'ReplacePrefixMatch']),
    replaceFullPath: z.string().max(1024).optional(),
    replacePrefixMatch: z.string().max(1024).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.type === 'ReplaceFullPath' && p.replaceFullPath === undefined) ctx.addIssue({ code: 'custom', path: ['replaceFullPath'], message: "must be specified when type is 'ReplaceFullPath'" });
    if (p.type === 'ReplacePrefixMatch' && p.replacePrefixMatch === undefined) ctx.addIssue({ code: 'custom', path: ['replacePrefixMatch'], message: "must be specified when type is 'ReplacePrefixMatch'" });
    if (p.type !== 'ReplaceFullPath' && p.replaceFullPath !== undefined) ctx.addIssue({ code: 'custom', path: ['replaceFullPath'], message: "requires type 'ReplaceFullPath'" });
    if (p.type !== 'ReplacePrefixMatch' && p.replacePrefixMatch !== undefined) ctx.addIssue({ code: 'custom', path: ['replacePrefixMatch'], message: "requires type 'ReplacePrefixMatch'" });
  });

const RequestMirror = z
  .strictObject({
    backendRef: BackendObjectReference,
    percent: intRange(0, 100).optional(),
    fraction: z
      .strictObject({ numerator: z.int().min(0), denominator: z.int().min(1).default(100) })
      .superRefine((f, ctx) => {
        if (f.numerator > f.denominator) ctx.addIssue({ code: 'custom', message: 'numerator must be less than or equal to denominator' });
      })
      .optional(),
  })
  .superRefine((m, ctx) => {
    if (m.percent !== undefined && m.fraction !== undefined) ctx.addIssue({ code: 'custom', message: 'only one of percent or fraction may be specified' });
  });

const LocalObjectReference = z.strictObject({ group: group(), kind: kind(), name: objectName() });

const FILTER_FIELDS = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  ExtensionRef: 'extensionRef',
} as const;

/** A filter's `type` must name the one field that is set (the CRD's CEL pairs). */
function filterAgreement(allowed: readonly (keyof typeof FILTER_FIELDS)[]) {
  return (f: Record<string, unknown> & { type: string }, ctx: z.core.$RefinementCtx<unknown>) => {
    for (const t of allowed) {
      const field = FILTER_FIELDS[t];
      if (f.type === t && f[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: `must be specified for type ${t}` });
      if (f.type !== t && f[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `must not be set when type is ${f.type}` });
    }
  };
}

const HTTP_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'RequestRedirect', 'URLRewrite', 'ExtensionRef'] as const;
const HTTPRouteFilter = z
  .strictObject({
    type: z.enum(HTTP_FILTERS),
    requestHeaderModifier: HeaderModifier.optional(),
    responseHeaderModifier: HeaderModifier.optional(),
    requestMirror: RequestMirror.optional(),
    requestRedirect: z
      .strictObject({
        scheme: z.enum(['http', 'https']).optional(),
        hostname: z.string().max(253).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a host name').optional(),
        path: PathModifier.optional(),
        port: intRange(1, 65535).optional(),
        statusCode: z.union([z.literal(301), z.literal(302)], { error: 'must be 301 or 302' }).default(302),
      })
      .optional(),
    urlRewrite: z.strictObject({ hostname: gatewayHostname().optional(), path: PathModifier.optional() }).optional(),
    extensionRef: LocalObjectReference.optional(),
  })
  .superRefine(filterAgreement(HTTP_FILTERS));

function filterListRules(filters: { type: string }[], ctx: z.core.$RefinementCtx<unknown>, path: (string | number)[]) {
  const count = (t: string) => filters.filter((f) => f.type === t).length;
  for (const t of ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite']) {
    if (count(t) > 1) ctx.addIssue({ code: 'custom', path, message: `${t} filter cannot be repeated` });
  }
  if (count('RequestRedirect') && count('URLRewrite')) ctx.addIssue({ code: 'custom', path, message: 'may specify either RequestRedirect or URLRewrite, but not both' });
}

const HTTPBackendRef = z
  .strictObject({ ...backendRefShape, weight: intRange(0, 1000000).default(1), filters: z.array(HTTPRouteFilter).max(16).optional() })
  .superRefine(needsServicePort)
  .superRefine((b, ctx) => filterListRules(b.filters ?? [], ctx, ['filters']));

const HTTPRouteRule = z
  .strictObject({
    name: sectionName().optional(),
    matches: z.array(HTTPRouteMatch).max(64).prefault([{}]),
    filters: z.array(HTTPRouteFilter).max(16).optional(),
    backendRefs: z.array(HTTPBackendRef).max(16).optional(),
    timeouts: z
      .strictObject({ request: gatewayDuration().optional(), backendRequest: gatewayDuration().optional() })
      .superRefine((t, ctx) => {
        const req = t.request ? parseGatewayDuration(t.request) : undefined;
        const be = t.backendRequest ? parseGatewayDuration(t.backendRequest) : undefined;
        if (req && be !== undefined && be > req) ctx.addIssue({ code: 'custom', path: ['backendRequest'], message: 'cannot be longer than the request timeout' });
      })
      .optional(),
  })
  .superRefine((r, ctx) => {
    const filters = r.filters ?? [];
    filterListRules(filters, ctx, ['filters']);
    if (r.backendRefs?.length && filters.some((f) => f.requestRedirect)) ctx.addIssue({ code: 'custom', path: ['filters'], message: 'a RequestRedirect filter must not be used together with backendRefs' });
    const prefixReplace = filters.some((f) => (f.requestRedirect ?? f.urlRewrite)?.path?.type === 'ReplacePrefixMatch');
    if (prefixReplace && (r.matches.length !== 1 || r.matches[0]!.path.type !== 'PathPrefix')) {
      ctx.addIssue({ code: 'custom', path: ['matches'], message: 'ReplacePrefixMatch needs exactly one PathPrefix match' });
    }
  });

/** Two parentRefs to the same parent must each name a sectionName or port (CRD CEL). */
function parentRefRules(refs: ParentReference[], ctx: z.core.$RefinementCtx<unknown>) {
  const seen = new Map<string, number>();
  refs.forEach((p, i) => {
    const parent = `${p.group}/${p.kind}/${p.namespace ?? ''}/${p.name}`;
    const full = `${parent}/${p.sectionName ?? ''}/${p.port ?? ''}`;
    if (seen.has(full)) ctx.addIssue({ code: 'custom', path: ['parentRefs', i], message: `duplicate parentRef (same as parentRefs[${seen.get(full)}]); give each a different sectionName or port` });
    seen.set(full, i);
  });
}

export const HTTPRouteSpec = z
  .strictObject({
    parentRefs: z.array(ParentReference).max(32).optional(),
    hostnames: z.array(gatewayHostname()).max(16).optional(),
    rules: z.array(HTTPRouteRule).max(16, 'must have at most 16 rules').prefault([{}]),
  })
  .superRefine((s, ctx) => {
    parentRefRules(s.parentRefs ?? [], ctx);
    const total = s.rules.reduce((n, r) => n + r.matches.length, 0);
    if (total > 128) ctx.addIssue({ code: 'custom', path: ['rules'], message: 'must have at most 128 matches across all rules' });
  });

// built when the first resource of its kind is validated (lazy.ts)
export const grpcRouteSpec = lazy(() => {
  const GRPC_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'ExtensionRef'] as const;
  const GRPCRouteFilter = z
    .strictObject({
      type: z.enum(GRPC_FILTERS),
      requestHeaderModifier: HeaderModifier.optional(),
      responseHeaderModifier: HeaderModifier.optional(),
      requestMirror: RequestMirror.optional(),
      extensionRef: LocalObjectReference.optional(),
    })
    .superRefine(filterAgreement(GRPC_FILTERS));

  const GRPCMethodMatch = z
    .strictObject({ type: z.enum(['Exact', 'RegularExpression']).default('Exact'), service: z.string().max(1024).optional(), method: z.string().max(1024).optional() })
    .superRefine((m, ctx) => {
      if (m.service === undefined && m.method === undefined) ctx.addIssue({ code: 'custom', message: "one or both of 'service' or 'method' must be specified" });
      if (m.type === 'Exact') {
        if (m.service !== undefined && !/^\.?[a-zA-Z_][a-zA-Z_0-9]*(\.[a-zA-Z_][a-zA-Z_0-9]*)*$/.test(m.service)) ctx.addIssue({ code: 'custom', path: ['service'], message: 'must be a gRPC service name (e.g. grpc.health.v1.Health)' });
        if (m.method !== undefined && !/^[A-Za-z_][A-Za-z_0-9]*$/.test(m.method)) ctx.addIssue({ code: 'custom', path: ['method'], message: 'must be a gRPC method name' });
      } else {
        for (const k of ['service', 'method'] as const) {
          const p = m[k] !== undefined ? checkRegex(m[k]!) : undefined;
          if (p) ctx.addIssue({ code: 'custom', path: [k], message: p });
        }
      }
    });

  const GRPCRouteRule = z
    .strictObject({
      name: sectionName().optional(),
      matches: z.array(z.strictObject({ method: GRPCMethodMatch.optional(), headers: z.array(HeaderMatch).max(16).optional() })).max(64).optional(),
      filters: z.array(GRPCRouteFilter).max(16).optional(),
      backendRefs: z
        .array(z.strictObject({ ...backendRefShape, weight: intRange(0, 1000000).default(1), filters: z.array(GRPCRouteFilter).max(16).optional() }).superRefine(needsServicePort))
        .max(16)
        .optional(),
    })
    .superRefine((r, ctx) => filterListRules(r.filters ?? [], ctx, ['filters']));

  const GRPCRouteSpec = z
    .strictObject({
      parentRefs: z.array(ParentReference).max(32).optional(),
      hostnames: z.array(gatewayHostname()).max(16).optional(),
      rules: z.array(GRPCRouteRule).max(16, 'must have at most 16 rules').optional(),
    })
    .superRefine((s, ctx) => parentRefRules(s.parentRefs ?? [], ctx));
  return GRPCRouteSpec;
});

export type HTTPRouteSpec = z.output<typeof HTTPRouteSpec>;
export type HTTPRouteRule = z.output<typeof HTTPRouteRule>;
export type GRPCRouteSpec = z.output<ReturnType<typeof grpcRouteSpec>>;

