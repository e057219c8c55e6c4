/**
 * One translated xDS resource: its encoded bytes, its content version, and the framed chunks that
 * go into responses, built on first use and kept (a resource pushed to a hundred streams is framed
 * once). Immutable once made.
 */
import { contentHash } from './hash.ts';
import { encodeAny, encodeDeltaResource, lengthDelimited } from './wire.ts';

export class EncodedResource {
  /** Content hash of `bytes`: equal versions mean equal resources. */
  readonly version: string;
  #anyField?: Uint8Array;
  #deltaField?: Uint8Array;

  constructor(
    readonly typeUrl: string,
    readonly name: string,
    /** The encoded message (a Listener, an istio.workload.Address, ...). */
    readonly bytes: Uint8Array,
  ) {
    this.version = contentHash(bytes);
  }

  /** `resources` entry of a DiscoveryResponse (field 2, an Any). */
  get sotwField(): Uint8Array {
    return (this.#anyField ??= lengthDelimited(2, encodeAny(this.typeUrl, this.bytes)));
  }

  /** `resources` entry of a DeltaDiscoveryResponse (field 2, a Resource with name and version). */
  get deltaField(): Uint8Array {
    return (this.#deltaField ??= lengthDelimited(2, encodeDeltaResource(this.name, this.version, encodeAny(this.typeUrl, this.bytes))));
  }
}

/** Translated resources by type URL, then by name. */
export type ResourceMap = ReadonlyMap<string, ReadonlyMap<string, EncodedResource>>;
