/**
 * One translated xDS resource: its encoded bytes, its content version, and the framed chunks that go
 * into responses. All of it lives in one allocation, made once: the delta `Resource` field, inside
 * which sit the state-of-the-world `Any` field and the message bytes, each a view (a resource pushed
 * to a hundred streams is framed once, and 10,000 of them are 10,000 small buffers, not three times
 * that). Immutable once made.
 */
import { contentHash } from './hash.ts';
import { frameDeltaResource } from './wire.ts';

export class EncodedResource {
  /** Content hash of `bytes`: equal versions mean equal resources. */
  readonly version: string;
  /** `resources` entry of a DeltaDiscoveryResponse (field 2, a Resource with name, version and the Any). */
  readonly deltaField: Uint8Array;
  readonly #any: number;
  readonly #value: number;
  readonly #length: number;

  constructor(
    readonly typeUrl: string,
    readonly name: string,
    /** The encoded message (a Listener, an istio.workload.Address, ...); copied, not kept. */
    bytes: Uint8Array,
  ) {
    this.version = contentHash(bytes);
    const framed = frameDeltaResource(name, this.version, typeUrl, bytes);
    this.deltaField = framed.field;
    this.#any = framed.anyField;
    this.#value = framed.value;
    this.#length = bytes.length;
  }

  /** The encoded message. */
  get bytes(): Uint8Array {
    return this.deltaField.subarray(this.#value, this.#value + this.#length);
  }

  /** `resources` entry of a DiscoveryResponse (field 2, an Any): the same bytes as the Resource's own field 2. */
  get sotwField(): Uint8Array {
    return this.deltaField.subarray(this.#any, this.#value + this.#length);
  }
}

/** Translated resources by type URL, then by name. */
export type ResourceMap = ReadonlyMap<string, ReadonlyMap<string, EncodedResource>>;
