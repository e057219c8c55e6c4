/**
 * Where an edge deploy's config comes from, read the same way by every entry point:
 * - a bundled snapshot (`weft edge snapshot --gateway NS/NAME > snapshot.json`): no control plane;
 * - else polling `weft control`'s REST-JSON xDS: `WEFT_CONTROL_URL` (its 15014 HTTP address) and
 *   `WEFT_TOKEN` (`weft token create --gateway NS/NAME`), `WEFT_POLL_MS` (default 5000),
 *   `WEFT_LABELS` (`k=v,k=v`: the gateway's labels, as `weft gateway --label`; an Istio Gateway's
 *   selector is matched against them).
 */
import type { EdgeConfigSource, EdgeSnapshot } from '../config-contract.ts';
import { RestXdsSource } from '../rest-xds-source.ts';
import { SnapshotSource } from '../snapshot-source.ts';

export interface EdgeEnv {
  WEFT_CONTROL_URL?: string;
  WEFT_TOKEN?: string;
  WEFT_POLL_MS?: string;
  WEFT_LABELS?: string;
}

export function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (s ?? '').split(',')) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
  }
  return out;
}

export function configSource(env: EdgeEnv, snapshot: EdgeSnapshot | undefined, fetchImpl?: typeof fetch): EdgeConfigSource {
  if (snapshot !== undefined) return new SnapshotSource(snapshot);
  if (env.WEFT_CONTROL_URL && env.WEFT_TOKEN) {
    return new RestXdsSource({
      url: env.WEFT_CONTROL_URL,
      token: env.WEFT_TOKEN,
      labels: parseLabels(env.WEFT_LABELS),
      ...(env.WEFT_POLL_MS ? { intervalMs: Number(env.WEFT_POLL_MS) } : {}),
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    });
  }
  throw new Error('edge host: no config source: bundle a snapshot (weft edge snapshot), or set WEFT_CONTROL_URL and WEFT_TOKEN to poll weft control');
}
