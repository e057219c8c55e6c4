/**
 * A state-of-the-world ADS stream (StreamAggregatedResources), as the xDS spec and the behaviour
 * measured with grpc-js-xds require (shared/reference/xds-grpc-interop.md):
 * - a request without a nonce (the first for a type, or a reconnect) is always answered;
 * - a request whose nonce is not the latest sent for its type is stale and ignored (answering those
 *   starts an endless request/response storm);
 * - an ACK or NACK of the latest nonce is answered only when its resource_names changed;
 * - every response carries every watched resource that exists (leaving a watched Listener out reads
 *   as its deletion, and grpc-js-xds 1.14 never recovers from that);
 * - empty resource_names is a wildcard only for LDS, CDS and the workload API.
 * Spec: https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#ack-and-nack-semantics
 */
import { PUSH_ORDER, frameDiscoveryResponse } from '../../../core/xds/index.ts';
import type { EncodedResource, XdsResources } from '../../../core/xds/index.ts';
import type { DiscoveryRequest } from '../../../core/xds/codec.ts';
import { AdsConnection, applyWatch, changesSinceSync, newTypeState, sharedNonce, watchedResources } from './connection.ts';
import type { TypeState } from './connection.ts';

export class SotwConnection extends AdsConnection {
  readonly protocol = 'sotw' as const;

  onRequest(req: DiscoveryRequest): void {
    if (!this.identify(req.node)) return;
    const typeUrl = req.typeUrl;
    const names = req.resourceNames ?? [];
    let st = this.types.get(typeUrl);
    if (req.responseNonce) {
      // An ACK or NACK: only of the latest response counts.
      if (!st || req.responseNonce !== st.nonce) return;
      if (req.errorDetail) this.recordNack(typeUrl, st, req.responseNonce, req.errorDetail.message ?? '');
      else this.recordAck(st, req.versionInfo ?? '');
      if (sameWatch(typeUrl, st, names)) return;
    } else if (!st) {
      st = newTypeState();
      this.types.set(typeUrl, st);
    }
    applyWatch(typeUrl, st, names);
    const res = this.host.current();
    if (res) this.respond(typeUrl, st, res);
  }

  push(res: XdsResources): void {
    const order = [...PUSH_ORDER, ...[...this.types.keys()].filter((t) => !PUSH_ORDER.includes(t))];
    for (const typeUrl of order) {
      const st = this.types.get(typeUrl);
      if (!st) continue;
      // Never answered yet (the first snapshot had not arrived): answer now.
      if (st.responses === 0) {
        this.respond(typeUrl, st, res);
        continue;
      }
      const quick = changesSinceSync(res, typeUrl, st);
      if (quick) {
        st.syncedId = res.id;
        if (quick.changed.length > 0 || quick.removed.length > 0) this.respond(typeUrl, st, res);
        continue;
      }
      const list = watchedResources(res, typeUrl, st);
      if (list.length === st.sent.size && list.every((r) => st.sent.get(r.name) === r.version)) {
        st.syncedId = res.id;
        continue;
      }
      this.respond(typeUrl, st, res, list);
    }
  }

  private respond(typeUrl: string, st: TypeState, res: XdsResources, list?: readonly EncodedResource[]): void {
    // An RDS or EDS watch on nothing is an unsubscription: nothing to answer.
    if (!st.wildcard && st.names.size === 0) {
      st.sent.clear();
      st.syncedId = res.id;
      return;
    }
    const all = res.resources.get(typeUrl);
    let nonce: string;
    let bytes: Uint8Array;
    if (st.wildcard && all && st.sharedAt !== res.id) {
      // Every wildcard watch gets every resource of the type: one response, framed once, for all streams.
      nonce = sharedNonce(res, typeUrl);
      bytes = this.host.shared(res, typeUrl, `sotw ${typeUrl}`, () => frameDiscoveryResponse(res.version, typeUrl, nonce, [...all.values()].map((r) => r.sotwField)));
      st.sent.rebase(all);
      st.sharedAt = res.id;
    } else {
      const watched = list ?? watchedResources(res, typeUrl, st);
      nonce = this.nextNonce();
      bytes = frameDiscoveryResponse(res.version, typeUrl, nonce, watched.map((r) => r.sotwField));
      if (st.wildcard && all) st.sent.rebase(all);
      else {
        st.sent.clear();
        for (const r of watched) st.sent.set(r.name, r.version);
      }
    }
    st.nonce = nonce;
    st.sentVersion = res.version;
    st.nacked = false;
    st.responses++;
    st.syncedId = res.id;
    this.send(typeUrl, bytes);
  }
}

function sameWatch(typeUrl: string, st: TypeState, names: readonly string[]): boolean {
  const probe: TypeState = { ...st, names: new Set(), wildcard: false };
  applyWatch(typeUrl, probe, names);
  if (probe.wildcard !== st.wildcard || probe.names.size !== st.names.size) return false;
  for (const n of probe.names) if (!st.names.has(n)) return false;
  return true;
}
