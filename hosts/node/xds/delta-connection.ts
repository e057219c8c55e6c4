/**
 * An incremental ADS stream (DeltaAggregatedResources): the client says what it holds
 * (initial_resource_versions) and what it watches (subscribe/unsubscribe, `*` for the wildcard);
 * the server sends only resources whose version differs from what the client holds, and names the
 * ones that are gone in removed_resources. Each response is ACKed or NACKed by its nonce;
 * subscription changes in a request apply whatever its nonce.
 * Spec: https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds
 */
import { PUSH_ORDER, TYPE_URL, frameDeltaDiscoveryResponse, isWildcardType } from '../../../core/xds/index.ts';
import type { EncodedResource, XdsResources } from '../../../core/xds/index.ts';
import type { DeltaDiscoveryRequest } from '../../../core/xds/codec.ts';
import { AdsConnection, changesSinceSync, newTypeState, sharedNonce, watchedResources } from './connection.ts';
import type { TrackedPart, TypeState } from './connection.ts';

/** In `sent`: the client was told this subscribed name does not exist. */
const ABSENT = '';
/** Unacknowledged responses kept per stream before the oldest are forgotten. */
const MAX_PENDING = 64;
/**
 * A response larger than this is sent as several (each with its own nonce, ACKed on its own; the
 * delta protocol allows it), at most MAX_PARTS of them. Node's HTTP/2 keeps a stream's last written
 * message until the stream writes again or closes, and grpc-js copies every message per stream: a
 * full push of 10,000 workloads in one 3 MB message held 300 MB for 100 idle streams; in parts of
 * 256 kB it holds a tenth of that. The parts go out one after the other (the stream's write queue).
 */
const PART_BYTES = 256 * 1024;
const MAX_PARTS = 32;

export class DeltaConnection extends AdsConnection {
  readonly protocol = 'delta' as const;
  /** nonce -> the response it names, until ACKed or NACKed. */
  readonly #pending = new Map<string, { typeUrl: string; version: string; part?: ResponsePart }>();

  onRequest(req: DeltaDiscoveryRequest): void {
    if (!this.identify(req.node)) return;
    const typeUrl = req.typeUrl;
    let st = this.types.get(typeUrl);
    const first = !st;
    if (!st) {
      st = newTypeState();
      this.types.set(typeUrl, st);
    }
    if (req.responseNonce) {
      const p = this.#pending.get(req.responseNonce);
      if (p && p.typeUrl === typeUrl) {
        this.#pending.delete(req.responseNonce);
        if (p.part?.tracked) this.#answerTracked(typeUrl, p.part.tracked, req.errorDetail?.message ?? undefined);
        if (req.errorDetail) this.recordNack(typeUrl, st, req.responseNonce, req.errorDetail.message ?? '', p.version);
        // A response sent in parts is ACKed once every part is (and none of them was NACKed).
        else if (![...this.#pending.values()].some((q) => q.typeUrl === typeUrl && q.version === p.version) && !(st.nacked && st.lastNack?.version === p.version)) {
          this.recordAck(st, p.version);
        }
      }
    }
    const subscribe = req.resourceNamesSubscribe ?? [];
    const unsubscribe = req.resourceNamesUnsubscribe ?? [];
    // The first request of a type with no names is a wildcard watch (where the type has one).
    if (first && subscribe.length === 0 && isWildcardType(typeUrl)) st.wildcard = true;
    if (first) for (const [name, version] of Object.entries(req.initialResourceVersions ?? {})) st.sent.set(name, version);
    const added: string[] = [];
    let widened = false;
    for (const n of subscribe) {
      if (n === '*') {
        widened ||= !st.wildcard;
        st.wildcard = true;
      } else if (!st.names.has(n)) {
        st.names.add(n);
        added.push(n);
      }
    }
    for (const n of unsubscribe) {
      if (n === '*') st.wildcard = false;
      else st.names.delete(n);
    }
    // The client drops what it no longer watches; forget that it held it.
    if (!st.wildcard) for (const name of st.sent.names()) if (!st.names.has(name)) st.sent.delete(name);

    const res = this.host.current();
    if (!res) return;
    if (first || added.length || widened) this.respond(typeUrl, st, res, { askedFor: added, always: first, full: true });
  }

  push(res: XdsResources): void {
    const order = [...PUSH_ORDER, ...[...this.types.keys()].filter((t) => !PUSH_ORDER.includes(t))];
    for (const typeUrl of order) {
      const st = this.types.get(typeUrl);
      if (!st) continue;
      // A type never answered (the stream came before the first snapshot) gets its full first answer.
      const initial = st.responses === 0;
      this.respond(typeUrl, st, res, { askedFor: initial ? [...st.names] : [], always: initial, full: initial });
    }
  }

  /** A tracked part went out: its resources are SENT (awaiting an answer), its removals forgotten. */
  #sentTracked(typeUrl: string, part: TrackedPart): void {
    let byName = this.resourceStatus.get(typeUrl);
    if (!byName) this.resourceStatus.set(typeUrl, (byName = new Map()));
    const at = new Date().toISOString();
    for (const [name, version] of part.sent) byName.set(name, { version, status: 'SENT', at });
    for (const name of part.removed) byName.delete(name);
  }

  /**
   * The answer to a tracked part: each resource it carried is ACKED, or NACKED with the proxy's
   * message. A NACK that names some of them (the proxies say `plugin <ns>.<name>: ...`) marks only
   * those: a proxy's plugin runtime swaps in the plugins that loaded and keeps a failed one out
   * (core/plugin/contract.ts PluginRuntime.update). One that names none marks all it carried.
   */
  #answerTracked(typeUrl: string, part: TrackedPart, nack: string | undefined): void {
    const byName = this.resourceStatus.get(typeUrl);
    if (!byName) return;
    const at = new Date().toISOString();
    const named = nack === undefined ? [] : part.sent.filter(([name]) => mentions(nack, name));
    for (const [name, version] of part.sent) {
      const e = byName.get(name);
      // A newer version sent since waits for its own answer.
      if (!e || e.version !== version) continue;
      const refused = nack !== undefined && (named.length === 0 || named.some(([n]) => n === name));
      byName.set(name, refused ? { version, status: 'NACKED', at, error: nack } : { version, status: 'ACKED', at });
    }
  }

  /**
   * Sends the watched resources whose version differs from what the client holds, and removals.
   * `askedFor`: names just subscribed, answered with a removal when they do not exist. `always`:
   * answer even with nothing (the first response of a type tells the client it is in sync).
   * `full`: compare every watched resource (after a subscription change), else only what changed
   * since the last translation when the stream was up to date with it.
   */
  private respond(typeUrl: string, st: TypeState, res: XdsResources, how: { askedFor: readonly string[]; always: boolean; full: boolean }): void {
    const { askedFor, always } = how;
    const all = res.resources.get(typeUrl);
    // A wildcard watch (no names) ends up holding exactly this translation's resources of the type.
    const whole = st.wildcard && st.names.size === 0 && all !== undefined;
    if (whole && how.full && st.sent.size === 0 && st.sharedAt !== res.id && (always || all.size > 0)) {
      // A new stream holding nothing: every such stream gets the same response, framed once.
      const parts = this.host.shared(res, typeUrl, `delta ${typeUrl}`, () => frameParts(res, typeUrl, [...all.values()], [], (i) => sharedNonce(res, typeUrl, i)));
      st.sent.rebase(all);
      st.sharedAt = res.id;
      st.syncedId = res.id;
      this.#dispatch(typeUrl, st, res, parts);
      return;
    }
    const quick = how.full ? undefined : changesSinceSync(res, typeUrl, st);
    const { changed, removed } = quick ?? fullDiff(res, typeUrl, st, askedFor);
    st.syncedId = res.id;
    if (whole) st.sent.rebase(all);
    else {
      for (const r of changed) st.sent.set(r.name, r.version);
      for (const name of removed) {
        if (st.names.has(name)) st.sent.set(name, ABSENT);
        else st.sent.delete(name);
      }
    }
    if (!always && changed.length === 0 && removed.length === 0) return;

    this.#dispatch(typeUrl, st, res, frameParts(res, typeUrl, changed, removed, () => this.nextNonce()));
  }

  #dispatch(typeUrl: string, st: TypeState, res: XdsResources, parts: readonly ResponsePart[]): void {
    for (const part of parts) {
      const { nonce, bytes } = part;
      st.nonce = nonce;
      st.sentVersion = res.version;
      st.nacked = false;
      st.responses++;
      if (part.tracked) this.#sentTracked(typeUrl, part.tracked);
      this.#pending.set(nonce, { typeUrl, version: res.version, ...(part.tracked ? { part } : {}) });
      if (this.#pending.size > MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value!);
      this.send(typeUrl, bytes);
    }
  }
}

interface ResponsePart {
  nonce: string;
  bytes: Uint8Array;
  /** For types whose status is kept per resource (TRACKED_TYPES): what this part sent and removed. */
  tracked?: TrackedPart;
}

/** Whether `message` names resource `name` as a whole word (not `demo.auth` inside `demo.auth-2`). */
function mentions(message: string, name: string): boolean {
  for (let i = message.indexOf(name); i >= 0; i = message.indexOf(name, i + 1)) {
    const before = message[i - 1];
    const after = message[i + name.length];
    if ((before === undefined || !/[\w.-]/.test(before)) && (after === undefined || !/[\w-]/.test(after) || (after === '.' && !/\w/.test(message[i + name.length + 1] ?? '')))) return true;
  }
  return false;
}

/** Resources whose ACK or NACK the status shows one by one (plugins: "where each is applied"). */
const TRACKED_TYPES: ReadonlySet<string> = new Set([TYPE_URL.extensionConfig]);

/** One response, or several when its resources are many (removals go in the first). */
function frameParts(res: XdsResources, typeUrl: string, changed: readonly EncodedResource[], removed: readonly string[], nonce: (part: number) => string): ResponsePart[] {
  if (TRACKED_TYPES.has(typeUrl)) {
    // Few resources (one per plugin): one part, with the names and versions it carries.
    const n = nonce(0);
    const bytes = frameDeltaDiscoveryResponse(res.version, typeUrl, n, changed.map((r) => r.deltaField), removed);
    return [{ nonce: n, bytes, tracked: { sent: changed.map((r) => [r.name, r.version]), removed: [...removed] } }];
  }
  let total = 0;
  for (const r of changed) total += r.deltaField.length;
  const limit = Math.max(PART_BYTES, Math.ceil(total / MAX_PARTS));
  const groups: Uint8Array[][] = [[]];
  let size = 0;
  for (const r of changed) {
    if (size > 0 && size + r.deltaField.length > limit) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1]!.push(r.deltaField);
    size += r.deltaField.length;
  }
  return groups.map((fields, i) => {
    const n = nonce(i);
    return { nonce: n, bytes: frameDeltaDiscoveryResponse(res.version, typeUrl, n, fields, i === 0 ? removed : []) };
  });
}

/** Every watched resource whose version differs from what the client holds, and removals. */
function fullDiff(res: XdsResources, typeUrl: string, st: TypeState, askedFor: readonly string[]): { changed: EncodedResource[]; removed: string[] } {
  const all = res.resources.get(typeUrl) ?? new Map<string, EncodedResource>();
  const changed = watchedResources(res, typeUrl, st).filter((r) => st.sent.get(r.name) !== r.version);
  const removed: string[] = [];
  for (const [name, version] of st.sent) if (version !== ABSENT && !all.has(name)) removed.push(name);
  for (const name of askedFor) if (!all.has(name) && !st.sent.has(name)) removed.push(name);
  return { changed, removed };
}
