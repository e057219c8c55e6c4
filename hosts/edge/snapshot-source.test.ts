import { describe, expect, it } from 'vitest';
import { REST_XDS_TYPES, type EdgeSnapshot } from './config-contract.ts';
import { SnapshotSource } from './snapshot-source.ts';

const snapshot: EdgeSnapshot = {
  format: 'weft.edge.snapshot/v1',
  gateway: { namespace: 'demo', name: 'web' },
  createdAt: '2026-01-01T00:00:00.000Z',
  responses: {
    listeners: { versionInfo: 'a', typeUrl: REST_XDS_TYPES.listeners, nonce: 'a', resources: [{ '@type': REST_XDS_TYPES.listeners, name: 'l' }] },
    clusters: { versionInfo: 'b', typeUrl: REST_XDS_TYPES.clusters, nonce: 'b', resources: [] },
  },
};

describe('SnapshotSource', () => {
  it('hands over the snapshot once, at start', () => {
    const got: unknown[] = [];
    const src = new SnapshotSource(JSON.parse(JSON.stringify(snapshot)));
    src.start((r) => got.push(r));
    src.stop();
    expect(got).toEqual([snapshot.responses]);
    expect(src.snapshot.gateway).toEqual({ namespace: 'demo', name: 'web' });
  });

  it('refuses what is not a snapshot of this format, saying how to make one', () => {
    expect(() => new SnapshotSource({ ...snapshot, format: 'weft.edge.snapshot/v0' })).toThrow(/format is "weft\.edge\.snapshot\/v0", this edge host reads "weft\.edge\.snapshot\/v1" \(make one with `weft edge snapshot --gateway NS\/NAME`/);
    expect(() => new SnapshotSource('{}')).toThrow(/expected a JSON object/);
    expect(() => new SnapshotSource({ ...snapshot, gateway: 'demo/web' })).toThrow(/gateway must be \{namespace, name\}/);
    expect(() => new SnapshotSource({ ...snapshot, responses: { secrets: {} } })).toThrow(/responses\.secrets: unknown type/);
    const wrong = { ...snapshot, responses: { routes: { ...snapshot.responses.listeners } } };
    expect(() => new SnapshotSource(wrong)).toThrow(/responses\.routes\.typeUrl: expected type\.googleapis\.com\/envoy\.config\.route\.v3\.RouteConfiguration/);
    const badResource = { ...snapshot, responses: { listeners: { ...snapshot.responses.listeners, resources: [{ name: 'x' }] } } };
    expect(() => new SnapshotSource(badResource)).toThrow(/responses\.listeners\.resources\[0\]: expected an object with "@type"/);
  });
});
