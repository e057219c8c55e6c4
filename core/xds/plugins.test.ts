import { describe, expect, it } from 'vitest';
import type { PluginBinding } from '../plugin/contract.ts';
import { envoy, xds } from './pb-workload.ts';
import { jsonToStruct } from './discovery-codec.ts';
import { EMBEDDED_TYPE_URL, PLUGIN_TYPE_URL, TYPE_URL } from './type-urls.ts';
import { comparePluginOrder, decodePluginBinding, decodePluginBindings, encodePluginBinding, pluginResource } from './plugins.ts';
import { decodeResource } from './codec.ts';

const binding = (over: Partial<PluginBinding> = {}): PluginBinding => ({
  name: 'demo.rate-limit',
  kind: 'http-filter',
  url: 'file:///builtin/rate-limit.wasm',
  sha256: 'a'.repeat(64),
  phase: 'AUTHZ',
  priority: 10,
  failStrategy: 'FAIL_OPEN',
  config: '{"burst":200}',
  ports: [8080],
  workloads: [],
  ...over,
});

describe('plugin bindings on the wire', () => {
  it('round-trips a binding through a TypedExtensionConfig holding a TypedStruct', () => {
    const b = binding({ kind: 'l4-policy', workloads: ['Kubernetes//Pod/demo/a', 'Kubernetes//Pod/demo/b'] });
    const bytes = encodePluginBinding(b);
    const ext = envoy.config.core.v3.TypedExtensionConfig.decode(bytes);
    expect(ext.name).toBe('demo.rate-limit');
    expect(ext.typedConfig!.typeUrl).toBe('type.googleapis.com/xds.type.v3.TypedStruct');
    expect(xds.type.v3.TypedStruct.decode(ext.typedConfig!.value!).typeUrl).toBe('type.weft.dev/weft.plugin.v1.WasmPlugin');
    expect(decodePluginBinding(bytes)).toEqual(b);
    // the control plane's full decoder reads it too (what DeltaXdsClient decodes with)
    expect((decodeResource(TYPE_URL.extensionConfig, bytes) as { name: string }).name).toBe('demo.rate-limit');
  });

  it('leaves sha256 out when unset and keeps the version stable for equal bindings', () => {
    const b = binding({ sha256: undefined });
    delete b.sha256;
    expect(decodePluginBinding(encodePluginBinding(b))).toEqual(b);
    expect(pluginResource(b).version).toBe(pluginResource({ ...b }).version);
    expect(pluginResource(b).version).not.toBe(pluginResource({ ...b, priority: 11 }).version);
    expect(pluginResource(b).typeUrl).toBe(TYPE_URL.extensionConfig);
  });

  it('decodes a proxy\'s resources in filter order (phase, then priority higher first, then name)', () => {
    const list = [
      binding({ name: 'ns.unspecified', phase: 'UNSPECIFIED_PHASE', priority: 100 }),
      binding({ name: 'ns.stats', phase: 'STATS' }),
      binding({ name: 'ns.authz-low', phase: 'AUTHZ', priority: 1 }),
      binding({ name: 'ns.authz-high', phase: 'AUTHZ', priority: 5 }),
      binding({ name: 'ns.authn', phase: 'AUTHN', priority: -3 }),
    ];
    const got = decodePluginBindings(list.map((b) => ({ bytes: encodePluginBinding(b) })));
    expect(got.map((b) => b.name)).toEqual(['ns.authn', 'ns.authz-high', 'ns.authz-low', 'ns.stats', 'ns.unspecified']);
    expect(decodePluginBindings([encodePluginBinding(list[0]!)])[0]!.name).toBe('ns.unspecified');
    expect([...list].sort(comparePluginOrder).map((b) => b.name)).toEqual(got.map((b) => b.name));
  });

  it('refuses what is not a Weft plugin, naming the resource (the proxy NACKs with it)', () => {
    const other = envoy.config.core.v3.TypedExtensionConfig.encode({ name: 'x.y', typedConfig: { typeUrl: 'type.googleapis.com/some.Other', value: new Uint8Array(0) } }).finish();
    expect(() => decodePluginBinding(other)).toThrow(/plugin x\.y: typed_config must be a type.googleapis.com\/xds.type.v3.TypedStruct/);
    const badKind = envoy.config.core.v3.TypedExtensionConfig.encode({
      name: 'x.y',
      typedConfig: { typeUrl: EMBEDDED_TYPE_URL.typedStruct, value: xds.type.v3.TypedStruct.encode({ typeUrl: PLUGIN_TYPE_URL, value: jsonToStruct({ name: 'x.y', kind: 'sidecar', url: 'file:///p.wasm' }) }).finish() },
    }).finish();
    expect(() => decodePluginBindings([badKind])).toThrow(/plugin x\.y: kind must be one of http-filter, l4-policy, endpoint-picker/);
  });
});
