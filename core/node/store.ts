/**
 * NodeStateStore: the one updater of a node proxy's NodeState (ztunnel's ProxyState mutator).
 * Each delta xDS update (added/changed resources by name, removed names) is compiled off to the
 * side; a bad resource is rejected with its name and message and its last good version stays;
 * then one new NodeState is swapped in, sharing with the previous one what the update left alone.
 */
import { compileAuthorization } from '../policy/compile.ts';
import type { AuthorizationProto, AddressProto } from '../xds/pb.ts';
import { TYPE_URL } from '../xds/type-urls.ts';
import { compileAddress } from './compile-address.ts';
import { decodeNodeResource } from './decode.ts';
import { IndexDraft } from './index-draft.ts';
import { DEFAULT_NODE_MESH } from './model.ts';
import type { NodeMeshSettings } from './model.ts';
import { EMPTY_INDEXES, NodeState } from './state.ts';

/** One delta response's worth of a type (the shape DeltaXdsClient's XdsUpdate has). */
export interface NodeResourceUpdate {
  readonly typeUrl: string;
  /**
   * Added or changed: the encoded bytes (preferred: decoded here keeping unknown fields, see
   * decode.ts) or an already decoded message.
   */
  readonly resources: readonly { readonly name: string; readonly bytes?: Uint8Array; readonly resource?: object }[];
  readonly removed: readonly string[];
}

export interface ResourceError {
  typeUrl: string;
  name: string;
  message: string;
}

export interface ApplyResult {
  state: NodeState;
  /** Rejected resources (NACK with these; the rest of the update applied). */
  errors: ResourceError[];
}

export class NodeStateStore {
  #state: NodeState;

  constructor(mesh: Partial<NodeMeshSettings> = {}) {
    this.#state = new NodeState(0, { ...DEFAULT_NODE_MESH, ...mesh }, EMPTY_INDEXES);
  }

  get current(): NodeState {
    return this.#state;
  }

  /** Applies one or several updates as one change (one swap). */
  apply(updates: NodeResourceUpdate | readonly NodeResourceUpdate[]): ApplyResult {
    const list: readonly NodeResourceUpdate[] = Array.isArray(updates) ? updates : [updates as NodeResourceUpdate];
    const draft = new IndexDraft(this.#state.indexes);
    const errors: ResourceError[] = [];
    for (const u of list) {
      const isAddress = u.typeUrl === TYPE_URL.address;
      if (!isAddress && u.typeUrl !== TYPE_URL.authorization) {
        for (const r of u.resources) errors.push({ typeUrl: u.typeUrl, name: r.name, message: `the node proxy does not use ${u.typeUrl}` });
        continue;
      }
      for (const name of u.removed) {
        if (isAddress) draft.removeAddress(name);
        else draft.removePolicy(name);
      }
      for (const r of u.resources) {
        const name = r.name;
        let resource: object | undefined;
        try {
          resource = r.bytes ? decodeNodeResource(u.typeUrl, r.bytes) : r.resource;
        } catch (e) {
          errors.push({ typeUrl: u.typeUrl, name, message: `malformed resource: ${(e as Error).message}` });
          continue;
        }
        if (!resource) {
          errors.push({ typeUrl: u.typeUrl, name, message: 'resource has neither bytes nor a decoded message' });
          continue;
        }
        if (isAddress) {
          const c = compileAddress(resource as AddressProto);
          if (!c.ok) errors.push({ typeUrl: u.typeUrl, name, message: c.message });
          else if (c.kind === 'workload') draft.putWorkload(name, c.value);
          else draft.putService(name, c.value);
        } else {
          const c = compileAuthorization(resource as AuthorizationProto);
          if (c.ok) draft.putPolicy(name, c.policy);
          else errors.push({ typeUrl: u.typeUrl, name, message: c.message });
        }
      }
    }
    if (draft.touched) this.#state = this.#state.derive(this.#state.version + 1, this.#state.mesh, draft.finish());
    return { state: this.#state, errors };
  }

  /** Mesh settings from wherever the host gets them (see the report on outbound policy delivery). */
  setMesh(mesh: Partial<NodeMeshSettings>): NodeState {
    this.#state = this.#state.derive(this.#state.version + 1, { ...this.#state.mesh, ...mesh }, this.#state.indexes);
    return this.#state;
  }
}
