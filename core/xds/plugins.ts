/**
 * Plugin bindings on the wire (design.md 6): one Envoy ECDS resource per WasmPlugin delivered to a
 * proxy, `envoy.config.core.v3.TypedExtensionConfig` named `<ns>.<name>`, whose typed_config is an
 * Any of `xds.type.v3.TypedStruct` { type_url: PLUGIN_TYPE_URL, value: Struct of the PluginBinding
 * fields } (TypedStruct is how Envoy carries a config whose proto it does not know).
 *
 * The control plane encodes, the proxies (L7 and node) decode. On the small workload-pb module, so a
 * node proxy decoding its l4-policy plugins never loads the Envoy types.
 */
import type { FailStrategy, PluginBinding, PluginKind, PluginPhase } from '../plugin/contract.ts';
import { envoy, xds } from './pb-workload.ts';
import { jsonToStruct, structToJson, type JsonValue } from './discovery-codec.ts';
import { EncodedResource } from './encoded-resource.ts';
import { EMBEDDED_TYPE_URL, PLUGIN_TYPE_URL, TYPE_URL } from './type-urls.ts';

export { PLUGIN_TYPE_URL } from './type-urls.ts';
/** The ECDS type URL the plugin resources are served under (TYPE_URL.extensionConfig). */
export const PLUGIN_RESOURCE_TYPE_URL = TYPE_URL.extensionConfig;

const KINDS: readonly PluginKind[] = ['http-filter', 'l4-policy', 'endpoint-picker'];
const PHASES: readonly PluginPhase[] = ['AUTHN', 'AUTHZ', 'STATS', 'UNSPECIFIED_PHASE'];
const FAIL: readonly FailStrategy[] = ['FAIL_CLOSE', 'FAIL_OPEN'];

/** The TypedExtensionConfig bytes of one binding. */
export function encodePluginBinding(b: PluginBinding): Uint8Array {
  const fields: Record<string, unknown> = {
    name: b.name,
    kind: b.kind,
    url: b.url,
    phase: b.phase,
    priority: b.priority,
    failStrategy: b.failStrategy,
    config: b.config,
    ports: b.ports,
    workloads: b.workloads,
  };
  if (b.sha256) fields.sha256 = b.sha256;
  const typed = xds.type.v3.TypedStruct.encode({ typeUrl: PLUGIN_TYPE_URL, value: jsonToStruct(fields) }).finish();
  return envoy.config.core.v3.TypedExtensionConfig.encode({ name: b.name, typedConfig: { typeUrl: EMBEDDED_TYPE_URL.typedStruct, value: typed } }).finish();
}

/** The ECDS resource of one binding (its version is its content hash, so an unchanged binding is not sent again). */
export function pluginResource(b: PluginBinding): EncodedResource {
  return new EncodedResource(TYPE_URL.extensionConfig, b.name, encodePluginBinding(b));
}

/** One TypedExtensionConfig -> its binding; throws (a NACK's message) when it is not a Weft plugin or is malformed. */
export function decodePluginBinding(bytes: Uint8Array): PluginBinding {
  const ext = envoy.config.core.v3.TypedExtensionConfig.decode(bytes);
  const name = ext.name ?? '';
  const fail = (why: string): never => {
    throw new Error(`plugin ${name || '(no name)'}: ${why}`);
  };
  const any = ext.typedConfig;
  if (!any || any.typeUrl !== EMBEDDED_TYPE_URL.typedStruct) fail(`typed_config must be a ${EMBEDDED_TYPE_URL.typedStruct} (got ${any?.typeUrl || 'none'})`);
  const ts = xds.type.v3.TypedStruct.decode(any!.value ?? new Uint8Array(0));
  if (ts.typeUrl !== PLUGIN_TYPE_URL) fail(`TypedStruct type_url must be ${PLUGIN_TYPE_URL} (got ${ts.typeUrl || 'none'})`);
  const v = structToJson(ts.value);
  const str = (k: string, required = true): string => {
    const x = v[k];
    if (typeof x === 'string') return x;
    if (x === undefined && !required) return '';
    return fail(`${k} must be a string`);
  };
  const oneOf = <T extends string>(k: string, allowed: readonly T[], dflt?: T): T => {
    const x = v[k] ?? dflt;
    if (typeof x === 'string' && (allowed as readonly string[]).includes(x)) return x as T;
    return fail(`${k} must be one of ${allowed.join(', ')}`);
  };
  const list = <T>(k: string, ok: (x: JsonValue) => x is T & JsonValue): T[] => {
    const x = v[k] ?? [];
    if (!Array.isArray(x) || !x.every(ok)) return fail(`${k} must be a list`);
    return x as T[];
  };
  const inner = str('name');
  if (name && inner !== name) fail(`name ${inner} differs from the resource's`);
  const priority = v.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority)) fail('priority must be an integer');
  const binding: PluginBinding = {
    name: inner,
    kind: oneOf('kind', KINDS),
    url: str('url'),
    phase: oneOf('phase', PHASES, 'UNSPECIFIED_PHASE'),
    priority: priority as number,
    failStrategy: oneOf('failStrategy', FAIL, 'FAIL_CLOSE'),
    config: str('config', false) || '{}',
    ports: list('ports', (p): p is number => typeof p === 'number' && Number.isInteger(p) && p > 0 && p < 65536),
    workloads: list('workloads', (w): w is string => typeof w === 'string'),
  };
  const sha = str('sha256', false);
  if (sha) binding.sha256 = sha;
  return binding;
}

/**
 * The bindings in the ECDS resources a proxy holds (the delta client's entries, or raw bytes), in
 * the order filters run: phase, then priority (higher first), then name. Throws on the first
 * malformed one (the message names it: NACK with it).
 */
export function decodePluginBindings(resources: Iterable<Uint8Array | { readonly bytes: Uint8Array }>): PluginBinding[] {
  const out: PluginBinding[] = [];
  for (const r of resources) out.push(decodePluginBinding(r instanceof Uint8Array ? r : r.bytes));
  return out.sort(comparePluginOrder);
}

/** Istio's filter order: AUTHN, AUTHZ, STATS, unspecified; higher priority first; then by name. */
export function comparePluginOrder(a: Pick<PluginBinding, 'phase' | 'priority' | 'name'>, b: Pick<PluginBinding, 'phase' | 'priority' | 'name'>): number {
  return PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase) || b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
