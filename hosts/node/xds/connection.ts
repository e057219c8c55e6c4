/**
 * What the SotW and delta streams share: the connected proxy's identity and node, per-type watch
 * state (subscribed names, what was sent, what was ACKed, the last NACK), and the syncz view of it.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { isWildcardType, nodeInfo, shortTypeName } from '../../../core/xds/index.ts';
import type { EncodedResource, NodeInfo, XdsResources } from '../../../core/xds/index.ts';
import type { NodeProto } from '../../../core/xds/pb.ts';
import type { ControlMetrics } from '../control/metrics.ts';
import { SentVersions } from './sent-versions.ts';
import type { L7Proxy } from '../../../core/xds/l7/index.ts';

/** Who is calling, as `authenticate` established it (from a join token, for example). */
export interface XdsCaller {
  /** `node`, `gateway`, `waypoint`, ... (also the `proxy_type` metric label). */
  readonly kind?: string;
  readonly name?: string;
  readonly [key: string]: unknown;
}

export interface NackRecord {
  /** The version the proxy refused. */
  version: string;
  nonce: string;
  message: string;
  at: string;
}

export interface TypeState {
  wildcard: boolean;
  names: Set<string>;
  /** Names and versions last sent (SotW: the last response; delta: what the client holds). */
  sent: SentVersions;
  nonce: string;
  sentVersion: string;
  ackedVersion: string;
  ackedAt?: string;
  lastNack?: NackRecord;
  /** The last response was NACKed and nothing newer was sent since. */
  nacked: boolean;
  responses: number;
  /** Id of the translation `sent` was last brought up to date with (0: none), for incremental pushes. */
  syncedId: number;
  /** Id of the translation of the last response shared with other streams (0: none); at most one a translation. */
  sharedAt: number;
}

/** What a proxy did with one resource of a type tracked per resource (the plugins' TypedExtensionConfigs). */
export interface ResourceAnswer {
  version: string;
  status: 'SENT' | 'ACKED' | 'NACKED';
  at: string;
  /** The NACK's error_detail message (e.g. a plugin that failed to load). */
  error?: string;
}

/** What one response of a tracked type carried: [name, version] sent, and names removed. */
export interface TrackedPart {
  sent: readonly (readonly [string, string])[];
  removed: readonly string[];
}

export interface TypeSyncz {
  wildcard: boolean;
  subscribed: string[];
  resources: number;
  status: 'NOT_SENT' | 'SENT' | 'ACKED' | 'NACKED';
  sentVersion: string;
  sentNonce: string;
  ackedVersion: string;
  ackedAt?: string;
  lastNack?: NackRecord;
  /** Per resource, for the types tracked that way (delta streams): the proxy's answer to each. */
  perResource?: Record<string, ResourceAnswer>;
}

export interface SynczEntry {
  id: string;
  protocol: 'sotw' | 'delta';
  peer: string;
  proxyType: string;
  connectedAt: string;
  caller?: XdsCaller;
  node: NodeInfo;
  types: Record<string, TypeSyncz>;
}

/** What a connection needs from the server. */
export interface ConnectionHost {
  readonly metrics?: ControlMetrics;
  /** The latest translation, undefined until the first snapshot arrives. */
  current(): XdsResources | undefined;
  /** Called once a stream has said who it is (its first request); an Error refuses it. */
  admit(conn: AdsConnection): Error | undefined;
  /**
   * A response every stream in the same state gets (a full answer to a wildcard watch), framed once per
   * translation and shared: `key` names the state, `make` frames it the first time.
   */
  shared<T>(res: XdsResources, typeUrl: string, key: string, make: () => T): T;
}

/**
 * The nonce of a shared response (or of its part): the same on every stream that gets it, unique
 * within each (a stream gets at most one shared response per type and translation; its own nonces are
 * plain base-36 counters).
 */
export function sharedNonce(res: XdsResources, typeUrl: string, part = 0): string {
  return `${res.id}.${shortTypeName(typeUrl)}${part ? `.${part}` : ''}`;
}

/** Applies a SotW-style name list: empty means wildcard only where the type allows it; `*` always does. */
export function applyWatch(typeUrl: string, st: TypeState, names: readonly string[]): void {
  st.wildcard = names.includes('*') || (names.length === 0 && isWildcardType(typeUrl));
  st.names = new Set(names.filter((n) => n !== '*'));
}

/** The resources of a type a state watches: all of them for a wildcard, else the named ones that exist. */
export function watchedResources(res: XdsResources, typeUrl: string, st: TypeState): EncodedResource[] {
  const all = res.resources.get(typeUrl);
  if (!all) return [];
  if (st.wildcard) return [...all.values()];
  const out: EncodedResource[] = [];
  for (const name of st.names) {
    const r = all.get(name);
    if (r) out.push(r);
  }
  return out;
}

/**
 * When `st` is up to date with the translation before `res`, the watched names that changed or went
 * away in between (each checked against what was sent); undefined when a full comparison is needed.
 * Keeps a push to many streams proportional to the change, not to the mesh.
 */
export function changesSinceSync(res: XdsResources, typeUrl: string, st: TypeState): { changed: EncodedResource[]; removed: string[] } | undefined {
  const delta = res.changes;
  if (!delta || st.syncedId === 0 || delta.sinceId !== st.syncedId) return undefined;
  const all = res.resources.get(typeUrl);
  const changes = delta.byType.get(typeUrl);
  if (!all || !changes) return undefined;
  const changed: EncodedResource[] = [];
  const removed: string[] = [];
  for (const name of changes.changed) {
    if (!st.wildcard && !st.names.has(name)) continue;
    const r = all.get(name)!;
    if (st.sent.get(name) !== r.version) changed.push(r);
  }
  for (const name of changes.removed) if (st.sent.get(name)) removed.push(name);
  return { changed, removed };
}

export function newTypeState(): TypeState {
  return { wildcard: false, names: new Set(), sent: new SentVersions(), nonce: '', sentVersion: '', ackedVersion: '', nacked: false, responses: 0, syncedId: 0, sharedAt: 0 };
}

export abstract class AdsConnection {
  abstract readonly protocol: 'sotw' | 'delta';
  readonly connectedAt = new Date();
  readonly types = new Map<string, TypeState>();
  node?: NodeInfo;
  proxyType = 'unknown';
  /** Counted in the connected-proxies gauge (admitted). */
  counted = false;
  /** Whether this stream may receive Secrets (its listener's setting). */
  secrets = false;
  /** The gateway or waypoint this stream serves (from its node metadata); null for other clients. */
  l7Proxy?: L7Proxy | null;
  /** Per type URL, per resource name: the answer to what was sent (only for types tracked per resource). */
  readonly resourceStatus = new Map<string, Map<string, ResourceAnswer>>();
  #nonce = 0;

  constructor(
    readonly id: string,
    readonly call: ServerDuplexStream<unknown, Uint8Array>,
    readonly host: ConnectionHost,
    readonly caller: XdsCaller | undefined,
  ) {}

  /** Records the node from the first request; false when the server refused the stream. */
  protected identify(node: NodeProto | null | undefined): boolean {
    if (this.node) return true;
    this.node = nodeInfo(node);
    this.proxyType = proxyTypeOf(this.node, this.caller);
    const refused = this.host.admit(this);
    if (refused) {
      this.call.emit('error', refused);
      return false;
    }
    return true;
  }

  protected nextNonce(): string {
    return (++this.#nonce).toString(36);
  }

  protected send(typeUrl: string, bytes: Uint8Array): void {
    this.call.write(bytes);
    this.host.metrics?.pushes.inc({ type: shortTypeName(typeUrl) });
  }

  protected recordNack(typeUrl: string, st: TypeState, nonce: string, message: string, version = st.sentVersion): void {
    st.nacked = true;
    st.lastNack = { version, nonce, message, at: new Date().toISOString() };
    this.host.metrics?.nacks.inc({ type: shortTypeName(typeUrl) });
  }

  protected recordAck(st: TypeState, version: string): void {
    st.nacked = false;
    st.ackedVersion = version;
    st.ackedAt = new Date().toISOString();
  }

  /** Sends what changed since the last response, on a new translation. */
  abstract push(res: XdsResources): void;

  syncz(): SynczEntry {
    const types: Record<string, TypeSyncz> = {};
    for (const [typeUrl, st] of this.types) {
      const entry: TypeSyncz = {
        wildcard: st.wildcard,
        subscribed: [...st.names].sort(),
        resources: [...st.sent.entries()].filter(([, v]) => v !== '').length,
        status: st.responses === 0 ? 'NOT_SENT' : st.nacked ? 'NACKED' : st.ackedVersion === st.sentVersion && st.ackedAt ? 'ACKED' : 'SENT',
        sentVersion: st.sentVersion,
        sentNonce: st.nonce,
        ackedVersion: st.ackedVersion,
      };
      if (st.ackedAt) entry.ackedAt = st.ackedAt;
      if (st.lastNack) entry.lastNack = st.lastNack;
      const per = this.resourceStatus.get(typeUrl);
      if (per) entry.perResource = Object.fromEntries([...per].sort(([a], [b]) => (a < b ? -1 : 1)));
      types[typeUrl] = entry;
    }
    const out: SynczEntry = {
      id: this.id,
      protocol: this.protocol,
      peer: this.call.getPeer(),
      proxyType: this.proxyType,
      connectedAt: this.connectedAt.toISOString(),
      node: this.node ?? nodeInfo(undefined),
      types,
    };
    if (this.caller) out.caller = this.caller;
    return out;
  }
}

/**
 * `grpc` for proxyless gRPC clients (their user agent says so), else the caller's kind from its
 * token, else the type in an Istio-style node id (`sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local`).
 */
function proxyTypeOf(node: NodeInfo, caller: XdsCaller | undefined): string {
  if (/^grpc/i.test(node.userAgent)) return 'grpc';
  if (caller?.kind) return caller.kind;
  const tilde = node.id.indexOf('~');
  return tilde > 0 ? node.id.slice(0, tilde) : 'unknown';
}
