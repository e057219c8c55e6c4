/**
 * DeltaXdsClient: the delta ADS client (delta-client-base.ts) decoding every resource type Weft
 * serves with core/xds's codecs (Envoy types and the workload API), for tests, tools and the
 * control-plane benchmark. The node proxy uses DeltaXdsClientBase directly, bytes only, so that it
 * never loads the Envoy protobuf types.
 */
import { decodeResource } from '../../../core/xds/codec.ts';
import { DeltaXdsClientBase } from './delta-client-base.ts';
import type { DeltaClientOptions } from './delta-client-base.ts';

export type { AnswerEvent, DeltaClientOptions, ResourceDecoder, XdsResourceEntry, XdsUpdate } from './delta-client-base.ts';
export { DeltaXdsClientBase } from './delta-client-base.ts';

export class DeltaXdsClient extends DeltaXdsClientBase {
  constructor(opts: DeltaClientOptions) {
    super(opts, decodeResource);
  }
}
