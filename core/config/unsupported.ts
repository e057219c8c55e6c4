/**
 * Upstream fields and values that validate but that Weft does not act on yet. Each becomes a warning
 * naming the field, so nothing a user wrote is dropped silently. When a later issue implements one,
 * its line goes from here.
 */
import type { PathSegment } from './field-path.ts';

export interface Advice {
  path: PathSegment[];
  message: string;
}

const NOT_YET = 'is not supported by Weft yet and is ignored';

/** `[]` walks every item of a list. */
const FIELDS: Readonly<Record<string, readonly string[]>> = {
  'networking.istio.io/VirtualService': [
    'spec.exportTo', 'spec.http[].mirror', 'spec.http[].mirrors', 'spec.http[].mirrorPercentage', 'spec.http[].mirrorPercent',
    'spec.http[].mirror_percent', 'spec.http[].delegate', 'spec.http[].match[].statPrefix',
  ],
  'networking.istio.io/DestinationRule': [
    'spec.exportTo', 'spec.trafficPolicy.tunnel', 'spec.trafficPolicy.proxyProtocol', 'spec.subsets[].trafficPolicy.tunnel',
    'spec.subsets[].trafficPolicy.proxyProtocol',
  ],
  'networking.istio.io/ServiceEntry': ['spec.exportTo'],
  'networking.istio.io/Gateway': ['spec.servers[].tls.verifyCertificateSpki', 'spec.servers[].tls.verifyCertificateHash', 'spec.servers[].tls.caCrl'],
  'extensions.istio.io/WasmPlugin': ['spec.imagePullPolicy', 'spec.imagePullSecret', 'spec.verificationKey'],
  'gateway.networking.k8s.io/Gateway': ['spec.infrastructure'],
};

function walk(value: unknown, segs: readonly string[], at: PathSegment[], out: PathSegment[][]): void {
  if (value === undefined) return;
  if (segs.length === 0) {
    out.push(at);
    return;
  }
  const [head, ...rest] = segs as [string, ...string[]];
  if (head === '[]') {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, rest, [...at, i], out));
    return;
  }
  if (value && typeof value === 'object') walk((value as Record<string, unknown>)[head], rest, [...at, head], out);
}

const split = (pattern: string) => pattern.replace(/\[\]/g, '.[]').split('.');

type Obj = Record<string, unknown>;
const get = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Obj)[k] : undefined), o);

/** Value-dependent advice: upstream-valid settings Weft cannot honour yet. */
function valueAdvice(gk: string, obj: Obj): Advice[] {
  const out: Advice[] = [];
  switch (gk) {
    case '/Service':
      if (get(obj, 'spec', 'type') === 'ExternalName') out.push({ path: ['spec', 'type'], message: `ExternalName ${NOT_YET}` });
      if (get(obj, 'spec', 'sessionAffinity') === 'ClientIP') out.push({ path: ['spec', 'sessionAffinity'], message: `ClientIP ${NOT_YET}` });
      break;
    case 'security.istio.io/AuthorizationPolicy':
      if (get(obj, 'spec', 'action') === 'CUSTOM') out.push({ path: ['spec', 'action'], message: `CUSTOM (external authorization) ${NOT_YET}` });
      break;
    case 'extensions.istio.io/WasmPlugin':
      out.push(...wasmPluginAdvice(obj));
      break;
    case 'gateway.networking.k8s.io/HTTPRoute':
    case 'gateway.networking.k8s.io/GRPCRoute': {
      const rules = (get(obj, 'spec', 'rules') as Obj[] | undefined) ?? [];
      rules.forEach((r, i) =>
        ((r.filters as Obj[] | undefined) ?? []).forEach((f, j) => {
          if (f.type === 'ExtensionRef') out.push({ path: ['spec', 'rules', i, 'filters', j, 'type'], message: `ExtensionRef filters are not supported by Weft yet and are ignored` });
        }),
      );
      break;
    }
    default:
      break;
  }
  return out;
}

/** The annotation that makes a WasmPlugin an endpoint picker (core/xds/plugins-select.ts reads it). */
const PLUGIN_KIND_ANNOTATION = 'weft.dev/plugin-kind';
const PLUGIN_KINDS = ['http-filter', 'l4-policy', 'endpoint-picker'];

/** What Weft reads differently from upstream in a WasmPlugin (design.md 6: no environment, server side only). */
function wasmPluginAdvice(obj: Obj): Advice[] {
  const out: Advice[] = [];
  const url = String(get(obj, 'spec', 'url') ?? '');
  if (url.startsWith('oci://') || !/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url)) {
    out.push({ path: ['spec', 'url'], message: 'OCI images are not supported by Weft yet: use a file:// or https:// URL' });
  }
  const type = get(obj, 'spec', 'type');
  const kindAnnotation = get(obj, 'metadata', 'annotations', PLUGIN_KIND_ANNOTATION);
  if (kindAnnotation !== undefined) {
    const path = ['metadata', 'annotations', PLUGIN_KIND_ANNOTATION];
    if (kindAnnotation !== 'endpoint-picker') {
      const hint = PLUGIN_KINDS.includes(String(kindAnnotation)) ? ` (${String(kindAnnotation)} follows from spec.type)` : '';
      out.push({ path, message: `only "endpoint-picker" is read here${hint}; the kind follows spec.type` });
    } else if (type === 'NETWORK') out.push({ path, message: 'an endpoint picker is an HTTP plugin: spec.type NETWORK is ignored' });
  }
  if (get(obj, 'spec', 'failStrategy') === 'FAIL_RELOAD') {
    out.push({ path: ['spec', 'failStrategy'], message: 'FAIL_RELOAD is treated as FAIL_CLOSE by Weft (a failed call fails the request; the instance is recycled)' });
  }
  ((get(obj, 'spec', 'match') as Obj[] | undefined) ?? []).forEach((m, i) => {
    if (m.mode !== undefined && m.mode !== 'UNDEFINED' && m.mode !== 'SERVER') {
      out.push({ path: ['spec', 'match', i, 'mode'], message: `${String(m.mode)} is not supported by Weft: plugins apply to the traffic a proxy serves (SERVER); this match is read as SERVER` });
    }
  });
  if (get(obj, 'spec', 'vmConfig', 'env') !== undefined) {
    out.push({ path: ['spec', 'vmConfig', 'env'], message: 'is not supported by Weft and is ignored: plugins run without an environment (use pluginConfig)' });
  }
  if (type === 'NETWORK' && kindAnnotation !== 'endpoint-picker') {
    const refs: [Obj, (string | number)[]][] = [];
    const one = get(obj, 'spec', 'targetRef') as Obj | undefined;
    if (one) refs.push([one, ['spec', 'targetRef']]);
    ((get(obj, 'spec', 'targetRefs') as Obj[] | undefined) ?? []).forEach((r, i) => refs.push([r, ['spec', 'targetRefs', i]]));
    for (const [r, path] of refs) {
      if (r.kind === 'Gateway' || r.kind === 'GatewayClass') {
        out.push({ path, message: `a NETWORK plugin is an L4 policy that runs in node proxies: a ${String(r.kind)} target selects no proxy (target a Service, or use a selector)` });
      }
    }
  }
  return out;
}

/** Warnings for the validated object `obj` of kind `gk` (`group/Kind`). */
export function unsupportedAdvice(gk: string, obj: Obj): Advice[] {
  const out: Advice[] = [];
  for (const pattern of FIELDS[gk] ?? []) {
    const paths: PathSegment[][] = [];
    walk(obj, split(pattern), [], paths);
    for (const path of paths) out.push({ path, message: NOT_YET });
  }
  return [...out, ...valueAdvice(gk, obj)];
}
