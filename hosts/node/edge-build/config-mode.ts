/**
 * Where a built edge deploy gets its config: a snapshot bundled with it (from `--snapshot FILE`, or
 * made now from `--gateway NS/NAME [--config DIR]` as `weft edge snapshot` makes it), or polling
 * `weft control` (`--control URL --token TOKEN`). In polling mode the current config is read once at
 * build time, only to know which plugins to bundle (plugins reach the edge at deploy time).
 */
import type { DiscoveryResponseJson, EdgeSnapshot, RestXdsType } from '../../edge/config-contract.ts';
import { RestXdsSource } from '../../edge/rest-xds-source.ts';

export type EdgeConfigMode =
  | { kind: 'snapshot'; snapshot: EdgeSnapshot }
  | { kind: 'control'; url: string; token: string; labels: Record<string, string>; pollMs?: number };

export type Responses = Partial<Record<RestXdsType, DiscoveryResponseJson>>;

/** One polling round against the control plane (the deploy's own poller, stopped after its first set). */
export function pollOnce(url: string, token: string, labels: Record<string, string>, timeoutMs = 15_000): Promise<Responses> {
  return new Promise((resolve, reject) => {
    let lastError = '';
    const src = new RestXdsSource({ url, token, labels, onError: (e) => (lastError = e.message) });
    const t = setTimeout(() => {
      src.stop();
      reject(new Error(`weft edge build: no config from ${url} in ${timeoutMs} ms${lastError ? `: ${lastError}` : ''}`));
    }, timeoutMs);
    src.start((responses) => {
      clearTimeout(t);
      src.stop();
      resolve(responses);
    });
  });
}

export function checkSnapshot(s: unknown, file: string): EdgeSnapshot {
  const snap = s as EdgeSnapshot;
  if (snap?.format !== 'weft.edge.snapshot/v1' || typeof snap.responses !== 'object' || snap.responses === null) throw new Error(`${file} is not an edge snapshot (format weft.edge.snapshot/v1; weft edge snapshot writes one)`);
  return snap;
}
