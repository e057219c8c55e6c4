/**
 * Which proxies each WasmPlugin goes to (Istio's selection rules, design.md 6), and the binding each
 * one receives (core/plugin/contract.ts PluginBinding).
 *
 * Kinds: `type: HTTP` or unspecified is an `http-filter`, `type: NETWORK` an `l4-policy`; the
 * annotation `weft.dev/plugin-kind: endpoint-picker` (an annotation, so users' CRD schema stays
 * valid) makes an `endpoint-picker`. http-filter and endpoint-picker plugins go to gateways and
 * waypoints only; l4-policy plugins to node proxies only, with the workload UIDs they check.
 *
 * Selection, in the plugin's namespace (the root namespace: every namespace):
 * - `targetRef(s)`: a Gateway (gateway.networking.k8s.io) selects the gateway or waypoint serving it;
 *   the GatewayClass istio-waypoint (root namespace) every waypoint; a Service the waypoint serving
 *   it (L7), or its workloads (l4-policy);
 * - `selector.matchLabels`: gateways and waypoints by their process labels (`weft gateway --label`,
 *   plus `gateway.networking.k8s.io/gateway-name` of each Gateway API Gateway served, as Istio's
 *   deployments carry it); workloads by their labels;
 * - neither: every proxy (root namespace) or every proxy of the namespace; for node proxies every
 *   workload of the node (root namespace: `workloads` empty, which means all) or of the namespace.
 */
import type { ConfigIssue } from '../config/issues.ts';
import type { ConfigResource, MeshSnapshot, ServiceInfo, WorkloadInfo } from '../config/snapshot.ts';
import type { WasmPluginSpec } from '../config/schema/istio-extensions.ts';
import { stableStringify } from '../config/stable-json.ts';
import type { PluginBinding, PluginKind } from '../plugin/contract.ts';
import type { EncodedResource } from './encoded-resource.ts';
import { comparePluginOrder, pluginResource } from './plugins.ts';

/** The annotation that makes a WasmPlugin an endpoint picker (Weft's extension of the kinds). */
export const PLUGIN_KIND_ANNOTATION = 'weft.dev/plugin-kind';
/** Scope keys of applicable plugins in an L7 proxy's scope (beside its gateway and authz keys). */
export const PLUGIN_KEY_PREFIX = 'plugin/';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const WAYPOINT_CLASS = 'istio-waypoint';
const GATEWAY_NAME_LABELS = ['gateway.networking.k8s.io/gateway-name', 'istio.io/gateway-name'];

interface TargetRef {
  group?: string;
  kind: string;
  name: string;
}

/** The L7 proxy as selection reads it (core/xds/l7/scope.ts L7Proxy). */
export interface PluginProxy {
  role: 'gateway' | 'waypoint';
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
}

export function pluginKindOf(res: ConfigResource): PluginKind {
  const spec = res.spec as WasmPluginSpec;
  if (res.metadata.annotations[PLUGIN_KIND_ANNOTATION] === 'endpoint-picker') return 'endpoint-picker';
  return spec.type === 'NETWORK' ? 'l4-policy' : 'http-filter';
}

/** The binding of a WasmPlugin (without workloads: the node selection fills them). */
export function pluginBindingOf(res: ConfigResource): PluginBinding {
  const spec = res.spec as WasmPluginSpec;
  const ports = new Set<number>();
  let allPorts = !spec.match?.length;
  for (const m of spec.match ?? []) {
    if (!m.ports?.length) allPorts = true;
    for (const p of m.ports ?? []) ports.add(p.number);
  }
  const b: PluginBinding = {
    name: pluginName(res),
    kind: pluginKindOf(res),
    url: spec.url,
    phase: spec.phase ?? 'UNSPECIFIED_PHASE',
    priority: spec.priority ?? 0,
    // FAIL_RELOAD (reload the plugin and retry) is read as FAIL_CLOSE, with a validation warning.
    failStrategy: spec.failStrategy === 'FAIL_OPEN' ? 'FAIL_OPEN' : 'FAIL_CLOSE',
    config: spec.pluginConfig ? stableStringify(spec.pluginConfig) : '{}',
    ports: allPorts ? [] : [...ports].sort((a, b) => a - b),
    workloads: [],
  };
  if (spec.sha256) b.sha256 = spec.sha256;
  return b;
}

/** `<namespace>.<name>`: the ECDS resource name and the HTTP filter name. */
export const pluginName = (res: ConfigResource): string => `${res.metadata.namespace}.${res.metadata.name}`;

function targetRefsOf(spec: WasmPluginSpec): TargetRef[] {
  return [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])] as TargetRef[];
}

function labelsMatch(want: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(want ?? {})) if (labels[k] !== v) return false;
  return true;
}

interface Plugin {
  res: ConfigResource;
  spec: WasmPluginSpec;
  binding: PluginBinding;
  namespace: string;
  refs: TargetRef[];
}

/** Encoded bindings, kept by resource and workload list across translations (an unchanged one keeps its bytes). */
const encoded = new WeakMap<ConfigResource, Map<string, EncodedResource>>();

function encodedFor(p: Plugin, workloads: readonly string[]): EncodedResource {
  const key = workloads.join(',');
  let byWorkloads = encoded.get(p.res);
  if (!byWorkloads) encoded.set(p.res, (byWorkloads = new Map()));
  let r = byWorkloads.get(key);
  if (!r) {
    if (byWorkloads.size > 64) byWorkloads.clear();
    byWorkloads.set(key, (r = pluginResource({ ...p.binding, workloads: [...workloads] })));
  }
  return r;
}

/** The WasmPlugins of one snapshot, ready to select. */
export class PluginSelection {
  readonly #root: string;
  readonly #l7: Plugin[] = [];
  readonly #l4: Plugin[] = [];
  readonly #byKey = new Map<string, Plugin>();

  constructor(list: readonly ConfigResource[], rootNamespace: string) {
    this.#root = rootNamespace;
    for (const res of list) {
      const spec = res.spec as WasmPluginSpec;
      const p: Plugin = { res, spec, binding: pluginBindingOf(res), namespace: res.metadata.namespace, refs: targetRefsOf(spec) };
      (p.binding.kind === 'l4-policy' ? this.#l4 : this.#l7).push(p);
      this.#byKey.set(PLUGIN_KEY_PREFIX + p.binding.name, p);
    }
    const order = (a: Plugin, b: Plugin) => comparePluginOrder(a.binding, b.binding);
    this.#l7.sort(order);
    this.#l4.sort(order);
  }

  get hasL7(): boolean {
    return this.#l7.length > 0;
  }

  get hasNode(): boolean {
    return this.#l4.length > 0;
  }

  /**
   * Keys (`plugin/<ns>.<name>`) of the http-filter and endpoint-picker plugins that select an L7
   * proxy serving `served` (gateway keys `k8s/<ns>/<name>`, `istio/...`, `waypoint/...`), in filter
   * order. `services`: to find the waypoint of a Service target.
   */
  forL7(proxy: PluginProxy, served: readonly string[], services: readonly ServiceInfo[]): string[] {
    const out: string[] = [];
    if (this.#l7.length === 0) return out;
    const split = (prefix: string) => served.filter((k) => k.startsWith(prefix)).map((k) => k.split('/') as [string, string, string]);
    const k8s = split('k8s/');
    const waypoints = split('waypoint/');
    for (const p of this.#l7) {
      if (this.#selectsL7(p, proxy, k8s, waypoints, services)) out.push(PLUGIN_KEY_PREFIX + p.binding.name);
    }
    return out;
  }

  #selectsL7(p: Plugin, proxy: PluginProxy, k8s: readonly [string, string, string][], waypoints: readonly [string, string, string][], services: readonly ServiceInfo[]): boolean {
    const ns = p.namespace;
    if (p.refs.length) {
      for (const ref of p.refs) {
        const group = ref.group ?? '';
        if (ref.kind === 'Gateway' && (group === GATEWAY_GROUP || group === '')) {
          if ([...k8s, ...waypoints].some(([, gns, name]) => gns === ns && name === ref.name)) return true;
        } else if (ref.kind === 'GatewayClass' && ref.name === WAYPOINT_CLASS && ns === this.#root && waypoints.length) {
          return true;
        } else if (ref.kind === 'Service' && group === '' && waypoints.length) {
          const svc = services.find((s) => s.namespace === ns && s.name === ref.name && s.source === 'Service');
          if (svc?.waypoint && waypoints.some(([, wns, name]) => svc.waypoint!.namespace === wns && svc.waypoint!.name === name)) return true;
        }
      }
      return false;
    }
    const want = p.spec.selector?.matchLabels;
    if ((ns === this.#root || ns === proxy.namespace) && labelsMatch(want, proxy.labels)) return true;
    // A Gateway API Gateway's (or waypoint's) proxy carries its gateway-name label in that Gateway's namespace.
    for (const [, gns, name] of [...k8s, ...waypoints]) {
      if (ns !== this.#root && ns !== gns) continue;
      const labels = { ...proxy.labels };
      for (const l of GATEWAY_NAME_LABELS) labels[l] = name;
      if (labelsMatch(want, labels)) return true;
    }
    return false;
  }

  /** The ECDS resources of L7 plugin keys (the others in `keys` are ignored), in filter order. */
  l7Resources(keys: readonly string[]): EncodedResource[] {
    const out: EncodedResource[] = [];
    for (const k of keys) {
      const p = this.#byKey.get(k);
      if (p && p.binding.kind !== 'l4-policy') out.push(encodedFor(p, []));
    }
    return out;
  }

  /** Whether plugin `key` applies to a waypoint's listeners of `svc` (a Service target names which services). */
  appliesToService(key: string, svc: ServiceInfo): boolean {
    const p = this.#byKey.get(key);
    if (!p) return false;
    const svcRefs = p.refs.filter((r) => r.kind === 'Service' && (r.group ?? '') === '');
    if (svcRefs.length === 0 || svcRefs.length < p.refs.length) return true;
    return svcRefs.some((r) => svc.namespace === p.namespace && svc.name === r.name);
  }

  /** The http-filter plugins among `keys`, in filter order: the names an HCM lists before its router. */
  httpFilterNames(keys: readonly string[]): string[] {
    const out: string[] = [];
    for (const k of keys) {
      const p = this.#byKey.get(k);
      if (p?.binding.kind === 'http-filter') out.push(p.binding.name);
    }
    return out;
  }

  /**
   * The l4-policy plugins for the node proxy of `nodeWorkloads` (the workloads it serves), each with
   * the UIDs it checks; a plugin that selects none of them is not sent.
   */
  forNode(nodeWorkloads: readonly WorkloadInfo[], services: ReadonlyMap<string, ServiceInfo>): EncodedResource[] {
    const out: EncodedResource[] = [];
    for (const p of this.#l4) {
      const uids = this.#workloadsOf(p, nodeWorkloads, services);
      if (uids) out.push(encodedFor(p, uids));
    }
    return out;
  }

  /** UIDs a plugin checks among `workloads`; [] means all (root-namespace plugin with no selector); undefined: none. */
  #workloadsOf(p: Plugin, workloads: readonly WorkloadInfo[], services: ReadonlyMap<string, ServiceInfo>): string[] | undefined {
    const ns = p.namespace;
    let uids: string[];
    if (p.refs.length) {
      const wanted = new Set<string>();
      for (const ref of p.refs) {
        if (ref.kind !== 'Service' || (ref.group ?? '') !== '') continue;
        for (const e of services.get(`${ns}/${ref.name}`)?.endpoints ?? []) wanted.add(e.workloadUid);
      }
      uids = workloads.filter((w) => wanted.has(w.uid)).map((w) => w.uid);
    } else {
      const want = p.spec.selector?.matchLabels;
      if (ns === this.#root && !want) return [];
      uids = workloads.filter((w) => (ns === this.#root || w.namespace === ns) && labelsMatch(want, w.labels)).map((w) => w.uid);
    }
    return uids.length ? uids.sort() : undefined;
  }

  /**
   * "selects no proxy" where the config says so for certain: an l4-policy that no workload matches, an
   * L7 plugin targeting a Service without a waypoint, or one with no gateway or waypoint in its scope
   * (gateway processes' own labels are not in the config, so a label selector is not judged further).
   */
  warnings(snapshot: MeshSnapshot): ConfigIssue[] {
    const out: ConfigIssue[] = [];
    const warn = (p: Plugin, path: string, why: string) =>
      out.push({ severity: 'warning', file: p.res.origin.file, line: p.res.origin.line, resource: { kind: 'WasmPlugin', namespace: p.namespace, name: p.res.metadata.name }, path, message: `WasmPlugin ${p.namespace}/${p.res.metadata.name} selects no proxy: ${why}` });
    if (this.#l4.length) {
      const services = new Map(snapshot.services.map((s) => [`${s.namespace}/${s.name}`, s]));
      for (const p of this.#l4) {
        if (p.refs.length && p.refs.every((r) => r.kind !== 'Service')) continue; // warned at validation (a Gateway target)
        if (!this.#workloadsOf(p, snapshot.workloads, services)) warn(p, p.refs.length ? 'spec.targetRefs' : 'spec.selector', p.refs.length ? 'the targeted Service has no workloads' : 'no workload matches it');
      }
    }
    if (this.#l7.length) {
      const gateways = snapshot.resources.get('Gateway') ?? [];
      for (const p of this.#l7) {
        const ns = p.namespace;
        if (p.refs.length) {
          const svcRefs = p.refs.filter((r) => r.kind === 'Service' && (r.group ?? '') === '');
          if (svcRefs.length !== p.refs.length) continue; // Gateway targets: a missing one is reported as a reference
          const hasWaypoint = svcRefs.some((r) => snapshot.services.some((s) => s.namespace === ns && s.name === r.name && s.source === 'Service' && s.waypoint));
          if (!hasWaypoint) warn(p, 'spec.targetRefs', `no targeted Service uses a waypoint`);
          continue;
        }
        const inScope = gateways.some((g) => ns === this.#root || g.metadata.namespace === ns || g.apiVersion.startsWith('networking.istio.io/'));
        if (!inScope) warn(p, p.spec.selector ? 'spec.selector' : '', ns === this.#root ? 'there is no gateway or waypoint' : `there is no gateway or waypoint in namespace ${ns}`);
      }
    }
    return out;
  }
}

/**
 * The l4-policy plugins of each node proxy for one snapshot: `(nodeName) -> ECDS resources`, with the
 * workloads indexed by node on first use and each node's answer kept (views are per translation).
 */
export function nodePluginsOf(sel: PluginSelection, snapshot: MeshSnapshot): (node: string) => readonly EncodedResource[] {
  let byNode: Map<string, WorkloadInfo[]> | undefined;
  let services: Map<string, ServiceInfo> | undefined;
  const memo = new Map<string, readonly EncodedResource[]>();
  return (node) => {
    let hit = memo.get(node);
    if (hit) return hit;
    if (!byNode) {
      byNode = new Map();
      for (const w of snapshot.workloads) {
        const list = byNode.get(w.node);
        if (list) list.push(w);
        else byNode.set(w.node, [w]);
      }
      services = new Map(snapshot.services.map((s) => [`${s.namespace}/${s.name}`, s]));
    }
    hit = sel.forNode(byNode.get(node) ?? [], services!);
    memo.set(node, hit);
    return hit;
  };
}
