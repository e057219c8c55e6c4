/**
 * Decoding of the two resource types a node proxy holds, keeping fields this build does not know
 * (`$unknowns`) instead of dropping them as protobufjs does by default: core/policy fails closed
 * on an Authorization carrying them (a newer control plane's condition must not vanish and widen
 * an ALLOW). Uses the static module only (runs in workerd).
 */
import $protobuf from 'protobufjs/minimal.js';
import { istio } from '../xds/pb-workload.ts';
import { TYPE_URL } from '../xds/type-urls.ts';

function reader(bytes: Uint8Array): $protobuf.Reader {
  const r = $protobuf.Reader.create(bytes);
  r.discardUnknown = false;
  return r;
}

/** Decodes an Address or Authorization; undefined for another type. Throws on malformed bytes. */
export function decodeNodeResource(typeUrl: string, bytes: Uint8Array): object | undefined {
  if (typeUrl === TYPE_URL.authorization) return istio.security.Authorization.decode(reader(bytes));
  if (typeUrl === TYPE_URL.address) return istio.workload.Address.decode(reader(bytes));
  return undefined;
}
