/**
 * The node proxy's xDS: one DeltaXdsClient to `weft control` over TLS (mesh root, the control
 * plane's SPIFFE id, join token, NODE_NAME metadata) watching the MeshConfig `mesh` resource, the
 * workload API's Authorization and Address resources (wildcard). Each response is applied to the
 * NodeStateStore inside the client's `validate` hook (bytes only, `decode: false`: the store decodes
 * keeping unknown fields), so a rejected resource NACKs with its name while the rest applies.
 * When the control plane goes away the client reconnects with backoff and the last state stays.
 */
import { TYPE_URL } from '../../../core/xds/type-urls.ts';
import { meshSettingsFromProto } from '../../../core/xds/mesh-config.ts';
import { istio } from '../../../core/xds/pb-workload.ts';
import { controlPlaneIdentity } from '../ca/control-plane-cert.ts';
import { DeltaXdsClientBase as DeltaXdsClient } from '../xds/delta-client-base.ts';
import type { DeltaTransport, XdsUpdate } from '../xds/delta-client-base.ts';
import type { NodeProxyInputs } from './inputs.ts';

/** Watched in this order: mesh settings before the policies, policies before the workloads naming them. */
export const NODE_WATCHES = [TYPE_URL.meshConfig, TYPE_URL.authorization, TYPE_URL.address] as const;

export interface XdsWiring {
  client: DeltaXdsClient;
  /** Resolves once every watched type has had its first response applied. */
  synced: Promise<void>;
  isSynced(): boolean;
}

/**
 * `plugins`: the ECDS plugin bindings (plugin-host.ts), watched by wildcard beside the node's types
 * (not part of being synced: a node proxy serves while its plugins load); the answer waits for the load.
 */
export function startXds(inputs: NodeProxyInputs & { setAliases(a: readonly string[]): void }, extraMetadata: Record<string, string> = {}, plugins?: { apply(u: XdsUpdate): string | undefined | Promise<string | undefined> }, transport?: DeltaTransport): XdsWiring {
  const { config, state } = inputs;
  const pending = new Set<string>(NODE_WATCHES);
  let markSynced!: () => void;
  const synced = new Promise<void>((r) => (markSynced = r));

  const validate = (u: XdsUpdate): string | undefined | Promise<string | undefined> => {
    if (u.typeUrl === TYPE_URL.extensionConfig) return plugins?.apply(u);
    let error: string | undefined;
    if (u.typeUrl === TYPE_URL.meshConfig) {
      error = applyMesh(inputs, u);
    } else {
      const { errors } = state.store.apply({ typeUrl: u.typeUrl, resources: u.resources, removed: u.removed });
      if (errors.length) error = errors.map((e) => `${e.name}: ${e.message}`).join('; ');
    }
    if (pending.delete(u.typeUrl) && pending.size === 0) markSynced();
    state.changed();
    if (error) config.log('warn', `xDS ${u.typeUrl}: rejected ${error}`);
    return error;
  };

  const client = new DeltaXdsClient({
    address: config.control,
    tls: { rootCert: config.rootCertPem, serverIdentity: controlPlaneIdentity(config.trustDomain) },
    token: config.token,
    node: { id: `node~${config.nodeName}`, metadata: { NODE_NAME: config.nodeName, ...extraMetadata } },
    subscriptions: [...NODE_WATCHES, ...(plugins ? [TYPE_URL.extensionConfig] : [])].map((typeUrl) => ({ typeUrl })),
    decode: false,
    validate,
    backoff: { initialMs: 100, maxMs: 5000 },
    ...(transport ? { transport } : {}),
  });
  client.on('connected', () => config.log('info', `connected to the control plane at ${config.control}`));
  client.on('disconnected', (err: Error) => config.log('warn', `control plane at ${config.control} lost (${err.message}); serving the last state, reconnecting`));
  client.start();
  return { client, synced, isSynced: () => pending.size === 0 };
}

function applyMesh(inputs: NodeProxyInputs & { setAliases(a: readonly string[]): void }, u: XdsUpdate): string | undefined {
  const r = u.resources.find((e) => e.name === 'mesh') ?? u.resources[0];
  if (!r) return undefined; // removed: keep the last settings
  try {
    const m = meshSettingsFromProto(istio.mesh.v1alpha1.MeshConfig.decode(r.bytes));
    inputs.state.store.setMesh({ outboundPolicy: m.outboundPolicy, trustDomain: m.trustDomain });
    inputs.setAliases(m.trustDomainAliases);
    return undefined;
  } catch (e) {
    return `${r.name}: malformed MeshConfig: ${(e as Error).message}`;
  }
}
