/**
 * Finding the proxy behind a `weft proxy-config` TARGET: `node/NAME`, or `name.namespace` of a pod
 * (served by its node's proxy), gateway or waypoint. The control plane's `/debug/syncz` lists the
 * connected proxies with their xDS node metadata; each reports its admin address (`host:port`) as
 * `ADMIN_ADDRESS` (what `weft node` sends) or `WEFT_ADMIN`. A proxy that reports neither is tried at
 * its connection's source IP on 15000.
 */
import type { SynczEntry } from '../xds/connection.ts';

export const DEFAULT_CONTROL_HTTP = 'http://127.0.0.1:15014';
/** Node metadata keys holding a proxy's admin `host:port`, first found wins. */
export const ADMIN_METADATA_KEYS = ['ADMIN_ADDRESS', 'WEFT_ADMIN'];
export const DEFAULT_ADMIN_PORT = 15000;

export type Target = { kind: 'node'; name: string } | { kind: 'workload'; name: string; namespace: string };

export function parseTarget(target: string): Target {
  if (target.startsWith('node/')) {
    const name = target.slice(5);
    if (!name) throw new Error('node/NAME: the node name is missing');
    return { kind: 'node', name };
  }
  const dot = target.indexOf('.');
  if (dot <= 0 || dot === target.length - 1) throw new Error(`${target}: expected name.namespace (a pod, gateway or waypoint) or node/NAME`);
  return { kind: 'workload', name: target.slice(0, dot), namespace: target.slice(dot + 1) };
}

/** GET a JSON document with a time limit; errors say what was being asked. */
export async function fetchJson(url: string, timeoutMs: number): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const why = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    throw new Error(`cannot reach ${url}: ${why}`);
  }
  if (!res.ok) throw new Error(`${url} answered ${res.status} ${res.statusText}`);
  return res.json();
}

const meta = (e: SynczEntry, key: string): string | undefined => {
  const v = e.node?.metadata?.[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
};

/** The node a proxy serves: its NODE_NAME metadata, else its join token's node. */
export function proxyNodeName(e: SynczEntry): string | undefined {
  return meta(e, 'NODE_NAME') ?? (e.caller?.kind === 'node' && typeof e.caller.name === 'string' ? e.caller.name : undefined);
}

/** `host:port` of a proxy's admin port, from WEFT_ADMIN or else its peer address on 15000. */
export function adminAddress(e: SynczEntry): string | undefined {
  const peerHost = hostOfPeer(e.peer);
  const reported = ADMIN_METADATA_KEYS.map((k) => meta(e, k)).find(Boolean);
  if (reported) {
    const { host, port } = splitHostPort(reported);
    // a wildcard bind is reached at the address the proxy connected from
    if ((host === '0.0.0.0' || host === '::' || host === '') && peerHost) return joinHostPort(peerHost, port);
    return reported;
  }
  return peerHost ? joinHostPort(peerHost, String(DEFAULT_ADMIN_PORT)) : undefined;
}

/** grpc-js peers look like `ipv4:10.0.0.1:5000`, `ipv6:[::1]:5000` or `10.0.0.1:5000`. */
export function hostOfPeer(peer: string | undefined): string | undefined {
  if (!peer) return undefined;
  const bare = peer.replace(/^ipv[46]:/, '');
  return splitHostPort(bare).host || undefined;
}

export function splitHostPort(s: string): { host: string; port: string } {
  const m = /^\[([^\]]*)\]:(\d+)$/.exec(s) ?? /^([^:]*):(\d+)$/.exec(s);
  return m ? { host: m[1], port: m[2] } : { host: s, port: '' };
}

const joinHostPort = (host: string, port: string): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

export interface Located {
  admin: string;
  /** How it was found, for error messages. */
  proxy: string;
}

/** Finds the admin address for a target through the control plane's HTTP API. */
export async function locateProxy(target: Target, controlHttp: string, timeoutMs = 5000): Promise<Located> {
  const base = controlHttp.replace(/\/+$/, '');
  const syncz = (await fetchJson(`${base}/debug/syncz`, timeoutMs)) as SynczEntry[];
  let node: string | undefined;
  if (target.kind === 'node') {
    node = target.name;
  } else {
    const own = syncz.find((e) => e.caller?.name === `${target.namespace}/${target.name}`); // a gateway or waypoint
    if (own) return found(own, `${target.name}.${target.namespace}`);
    const configz = (await fetchJson(`${base}/debug/configz`, timeoutMs)) as { workloads?: Array<{ name: string; namespace: string; node: string }> };
    const w = configz.workloads?.find((x) => x.name === target.name && x.namespace === target.namespace);
    if (!w) throw new Error(`no workload ${target.name}.${target.namespace} in the control plane's config (${base}/debug/configz)`);
    if (!w.node) throw new Error(`workload ${target.name}.${target.namespace} has no node (spec.nodeName, or label weft.io/node on a WorkloadEntry)`);
    node = w.node;
  }
  const proxy = syncz.find((e) => proxyNodeName(e) === node);
  if (!proxy) {
    const known = syncz.map(proxyNodeName).filter(Boolean);
    throw new Error(`no node proxy for node ${node} is connected to the control plane (connected: ${known.join(', ') || 'none'}); use --admin HOST:PORT to ask one directly`);
  }
  return found(proxy, `node/${node}`);
}

function found(e: SynczEntry, what: string): Located {
  const admin = adminAddress(e);
  if (!admin) throw new Error(`the proxy serving ${what} reports no admin address; use --admin HOST:PORT`);
  return { admin, proxy: what };
}
