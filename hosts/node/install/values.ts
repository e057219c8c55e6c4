/**
 * The values `weft install --set k=v` takes, their defaults, and the profiles (Istio's names: ambient,
 * minimal, empty) as sets of component switches. Flat, documented keys instead of Istio's deep
 * `values.global.*` tree: there are few of them, and an unknown key is an error that lists them all,
 * so a typo never renders a silently different install.
 */
import { WEFT_VERSION } from '../version.ts';

export type Profile = 'ambient' | 'minimal' | 'empty';
export const PROFILES: readonly Profile[] = ['ambient', 'minimal', 'empty'];

export interface InstallValues {
  namespace: string;
  hub: string;
  tag: string;
  /** A full image reference; overrides hub and tag when set. */
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  trustDomain: string;
  controlReplicas: number;
  logLevel: 'info' | 'debug';
  capture: 'iptables' | 'none';
  nodeSelector: Record<string, string>;
  components: { crds: boolean; control: boolean; node: boolean; waypoint: boolean };
  crds: { istio: boolean; gatewayApi: boolean; inference: boolean };
  waypoint: { namespace: string; name: string; for: 'service' | 'workload' | 'all' | 'none' };
}

type Kind = 'string' | 'bool' | 'int' | { oneOf: readonly string[] };

interface KeyDef {
  kind: Kind;
  help: string;
  get: (v: InstallValues) => unknown;
  set: (v: InstallValues, value: never) => void;
}

const key = <T>(kind: Kind, help: string, get: (v: InstallValues) => T, set: (v: InstallValues, value: T) => void): KeyDef => ({ kind, help, get, set: set as KeyDef['set'] });

/** Every key `--set` accepts (`nodeSelector.<label>` besides these). */
export const KEYS: Readonly<Record<string, KeyDef>> = {
  namespace: key('string', 'namespace of the control plane and the node proxies', (v) => v.namespace, (v, x) => (v.namespace = x)),
  hub: key('string', 'image registry and path (Istio habit: hub + tag)', (v) => v.hub, (v, x) => (v.hub = x)),
  tag: key('string', 'image tag', (v) => v.tag, (v, x) => (v.tag = x)),
  image: key('string', 'full image reference (overrides hub and tag)', (v) => v.image, (v, x) => (v.image = x)),
  imagePullPolicy: key({ oneOf: ['Always', 'IfNotPresent', 'Never'] }, 'image pull policy', (v) => v.imagePullPolicy, (v, x) => (v.imagePullPolicy = x as InstallValues['imagePullPolicy'])),
  trustDomain: key('string', 'SPIFFE trust domain (MeshConfig trustDomain)', (v) => v.trustDomain, (v, x) => (v.trustDomain = x)),
  controlReplicas: key('int', 'replicas of the control plane Deployment', (v) => v.controlReplicas, (v, x) => (v.controlReplicas = x)),
  logLevel: key({ oneOf: ['info', 'debug'] }, 'debug: the proxies log debug lines (--verbose)', (v) => v.logLevel, (v, x) => (v.logLevel = x as InstallValues['logLevel'])),
  capture: key({ oneOf: ['iptables', 'none'] }, "node proxy capture (none: SOCKS5/CONNECT only, and no capabilities)", (v) => v.capture, (v, x) => (v.capture = x as InstallValues['capture'])),
  'components.crds': key('bool', 'install the CustomResourceDefinitions', (v) => v.components.crds, (v, x) => (v.components.crds = x)),
  'components.control': key('bool', 'install the control plane (Deployment, Service, RBAC)', (v) => v.components.control, (v, x) => (v.components.control = x)),
  'components.node': key('bool', 'install the node proxy DaemonSet', (v) => v.components.node, (v, x) => (v.components.node = x)),
  'components.waypoint': key('bool', 'render a waypoint (Gateway of class istio-waypoint, its Deployment and Service)', (v) => v.components.waypoint, (v, x) => (v.components.waypoint = x)),
  'crds.istio': key('bool', "Istio's CRDs (networking, security, extensions)", (v) => v.crds.istio, (v, x) => (v.crds.istio = x)),
  'crds.gatewayApi': key('bool', 'Gateway API CRDs (false when the upstream standard-install.yaml is installed)', (v) => v.crds.gatewayApi, (v, x) => (v.crds.gatewayApi = x)),
  'crds.inference': key('bool', 'Inference Extension CRDs', (v) => v.crds.inference, (v, x) => (v.crds.inference = x)),
  'waypoint.namespace': key('string', "the waypoint's namespace", (v) => v.waypoint.namespace, (v, x) => (v.waypoint.namespace = x)),
  'waypoint.name': key('string', "the waypoint's name (and service account)", (v) => v.waypoint.name, (v, x) => (v.waypoint.name = x)),
  'waypoint.for': key({ oneOf: ['service', 'workload', 'all', 'none'] }, 'traffic the waypoint handles (istio.io/waypoint-for)', (v) => v.waypoint.for, (v, x) => (v.waypoint.for = x as InstallValues['waypoint']['for'])),
};

const NODE_SELECTOR = 'nodeSelector.';

export function defaults(profile: Profile): InstallValues {
  const on = { ambient: ['crds', 'control', 'node'], minimal: ['crds', 'control'], empty: [] as string[] }[profile];
  return {
    namespace: 'weft-system',
    hub: 'ghcr.io/weft-mesh',
    tag: WEFT_VERSION,
    image: '',
    imagePullPolicy: 'IfNotPresent',
    trustDomain: 'cluster.local',
    controlReplicas: 1,
    logLevel: 'info',
    capture: 'iptables',
    nodeSelector: {},
    components: { crds: on.includes('crds'), control: on.includes('control'), node: on.includes('node'), waypoint: false },
    crds: { istio: true, gatewayApi: true, inference: true },
    waypoint: { namespace: 'default', name: 'waypoint', for: 'service' },
  };
}

export class InstallValueError extends Error {
  override name = 'InstallValueError';
}

/** What `--help` and the unknown-key error print: one line per key with its default. */
export function describeKeys(profile: Profile = 'ambient'): string {
  const d = defaults(profile);
  const rows = Object.entries(KEYS).map(([k, def]) => [k, `${def.help} (${kindText(def.kind)}, default ${JSON.stringify(def.get(d))})`]);
  rows.push([`${NODE_SELECTOR}<label>`, 'a node label the control plane and node proxy pods require (repeatable)']);
  const w = Math.max(...rows.map((r) => r[0]!.length));
  return rows.map(([k, h]) => `  ${k!.padEnd(w)}  ${h}`).join('\n');
}

function kindText(k: Kind): string {
  return typeof k === 'string' ? k : k.oneOf.join('|');
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Applies `k=v` assignments in order (a later one wins) over a profile's defaults. */
export function resolveValues(profile: string, sets: readonly string[]): InstallValues {
  if (!PROFILES.includes(profile as Profile)) throw new InstallValueError(`unknown profile ${JSON.stringify(profile)}: one of ${PROFILES.join(', ')}`);
  const v = defaults(profile as Profile);
  for (const assignment of sets) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new InstallValueError(`--set ${assignment}: expected key=value`);
    const k = assignment.slice(0, eq).trim();
    const text = assignment.slice(eq + 1);
    if (k.startsWith(NODE_SELECTOR)) {
      const label = k.slice(NODE_SELECTOR.length);
      if (!LABEL_KEY.test(label)) throw new InstallValueError(`--set ${k}: ${JSON.stringify(label)} is not a label key`);
      v.nodeSelector[label] = text;
      continue;
    }
    const def = KEYS[k];
    if (!def) throw new InstallValueError(`--set ${k}: unknown key. Known keys:\n${describeKeys(profile as Profile)}`);
    def.set(v, parse(k, def.kind, text) as never);
  }
  for (const [k, ns] of [['namespace', v.namespace], ['waypoint.namespace', v.waypoint.namespace], ['waypoint.name', v.waypoint.name]] as const) {
    if (!DNS_LABEL.test(ns) || ns.length > 63) throw new InstallValueError(`--set ${k}=${ns}: not a DNS-1123 label (lower case letters, digits and '-')`);
  }
  if (v.controlReplicas < 1) throw new InstallValueError(`--set controlReplicas=${v.controlReplicas}: at least 1`);
  return v;
}

function parse(k: string, kind: Kind, text: string): string | number | boolean {
  if (kind === 'string') {
    if (text === '') throw new InstallValueError(`--set ${k}: empty value`);
    return text;
  }
  if (kind === 'bool') {
    if (text === 'true' || text === 'false') return text === 'true';
    throw new InstallValueError(`--set ${k}=${text}: true or false`);
  }
  if (kind === 'int') {
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new InstallValueError(`--set ${k}=${text}: a whole number`);
    return n;
  }
  if (!kind.oneOf.includes(text)) throw new InstallValueError(`--set ${k}=${text}: one of ${kind.oneOf.join(', ')}`);
  return text;
}

export function imageRef(v: InstallValues): string {
  return v.image || `${v.hub}/weft:${v.tag}`;
}
