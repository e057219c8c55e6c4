/**
 * The core scenario (issue 2, design.md 8): a config directory's text in, validation issues, a
 * snapshot and encoded xDS resources out, reduced to plain JSON so Node, Deno and workerd results
 * can be compared byte for byte. Uses only core/ and the libraries core uses; no runtime API except
 * web standards (crypto.subtle for the digests).
 *
 * Switching to the real pipeline once core/config and core/xds land: replace `baselinePipeline`
 * by a `corePipeline(files)` returning the same PipelineOutput, e.g.
 *   const { resources, issues } = parseSourceFiles(files);           // core/config/index.ts
 *   const snapshot = buildSnapshot(resources, ...);                  // or new Store(...).apply(...)
 *   const xds = translate(snapshot);                                 // core/xds/index.ts
 *   xds: per type URL, the resources' `encode(r).finish()` bytes
 * then delete scenario-baseline.ts. runtimes.test.ts needs no change beyond its `pipeline` check.
 */
import { formatIssue } from '../../core/config/issues.ts';
import type { ConfigIssue } from '../../core/config/issues.ts';
import { systemClock } from '../../core/ports/index.ts';
import { baselinePipeline } from './scenario-baseline.ts';
import { SCENARIO_FILES } from './scenario-files.ts';

/** What a pipeline hands back before it is reduced to JSON. */
export interface PipelineOutput {
  /** Which pipeline ran: the stand-in or core's own. */
  pipeline: string;
  issues: readonly ConfigIssue[];
  /** Accepted resources by kind. */
  resourceCounts: Record<string, number>;
  snapshot: { version: number; trustDomain: string; services: string[]; workloads: string[] };
  /** Encoded xDS resources, grouped by type URL. */
  xds: { typeUrl: string; resources: Uint8Array[] }[];
}

export interface ScenarioResult {
  pipeline: string;
  issues: string[];
  errors: number;
  warnings: number;
  resourceCounts: Record<string, number>;
  snapshot: PipelineOutput['snapshot'];
  xds: { typeUrl: string; count: number; bytes: number; sha256: string }[];
  totalBytes: number;
  /** SHA-256 over every encoded resource, each prefixed by its length, in order. */
  sha256: string;
  /** core/ports' systemClock answered with sane values (the values themselves differ per run). */
  clockOk: boolean;
}

async function sha256(parts: readonly Uint8Array[]): Promise<string> {
  const total = parts.reduce((n, p) => n + 4 + p.length, 0);
  const all = new Uint8Array(total);
  const view = new DataView(all.buffer);
  let at = 0;
  for (const p of parts) {
    view.setUint32(at, p.length);
    all.set(p, at + 4);
    at += 4 + p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function runCoreScenario(): Promise<ScenarioResult> {
  const out = baselinePipeline(SCENARIO_FILES);
  const xds = await Promise.all(
    out.xds.map(async (g) => ({
      typeUrl: g.typeUrl,
      count: g.resources.length,
      bytes: g.resources.reduce((n, r) => n + r.length, 0),
      sha256: await sha256(g.resources),
    })),
  );
  const now = systemClock.now();
  const mono = systemClock.monotonic();
  return {
    pipeline: out.pipeline,
    issues: out.issues.map((i) => `${i.severity}: ${formatIssue(i)}`),
    errors: out.issues.filter((i) => i.severity === 'error').length,
    warnings: out.issues.filter((i) => i.severity === 'warning').length,
    resourceCounts: out.resourceCounts,
    snapshot: out.snapshot,
    xds,
    totalBytes: xds.reduce((n, g) => n + g.bytes, 0),
    sha256: await sha256(out.xds.flatMap((g) => g.resources)),
    clockOk: Number.isFinite(now) && now > 1.6e12 && Number.isFinite(mono) && mono >= 0,
  };
}
