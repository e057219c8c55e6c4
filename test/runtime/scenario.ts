/**
 * The core scenario (issue 2, design.md 8): a config directory's text in, validation issues, an
 * immutable snapshot and encoded xDS resources out, reduced to plain JSON so that the Node, Deno and
 * workerd results can be compared exactly. It drives core's own pipeline (ConfigStore -> MeshSnapshot
 * -> XdsTranslator -> static protobuf encoders) and nothing else: no runtime API beyond web
 * standards (crypto.subtle for the digests).
 *
 * Three steps: the embedded sample config (must be clean), the scenario directory (one bad resource,
 * one unsupported kind), then an edit of it (a pod moves: new version; a good Service broken: rejected,
 * its last good version keeps serving). Every encoded resource is decoded back as well.
 */
import { ConfigStore, formatIssue } from '../../core/config/index.ts';
import type { MeshSnapshot } from '../../core/config/index.ts';
import { SAMPLE_FILES } from '../../core/config/sample/index.ts';
import { systemClock } from '../../core/ports/index.ts';
import type { SourceFile } from '../../core/ports/index.ts';
import { PUSH_ORDER, XdsTranslator, decodeResource } from '../../core/xds/index.ts';
import type { XdsResources } from '../../core/xds/index.ts';
import { SCENARIO_CHANGE, SCENARIO_FILES } from './scenario-files.ts';

export interface XdsGroup {
  typeUrl: string;
  /** Resource names, sorted. */
  names: string[];
  bytes: number;
  /** SHA-256 over each resource's name and bytes, length-prefixed, in name order. */
  sha256: string;
}

export interface StepResult {
  version: number;
  /** Snapshot issues, then translation warnings, each as `severity: file:line: Kind ns/name: path: message`. */
  issues: string[];
  errors: number;
  warnings: number;
  /** Accepted resources by kind. */
  resourceCounts: Record<string, number>;
  trustDomain: string;
  /** `<key> -> <endpoint addresses>` per service. */
  services: string[];
  /** `<uid>@<node> <identity> <addresses>` per workload. */
  workloads: string[];
  xds: XdsGroup[];
  totalResources: number;
  totalBytes: number;
  /** Resources decoded back with core/xds's decoders (equals totalResources when all decode). */
  decoded: number;
  sha256: string;
}

export interface ScenarioResult {
  pipeline: 'core';
  sample: StepResult;
  initial: StepResult;
  changed: StepResult;
  /** `<typeUrl short> <name>` of every resource added, removed or re-encoded differently by the edit. */
  delta: string[];
  /** core/ports' systemClock answered with sane values (the values themselves differ per run). */
  clockOk: boolean;
}

const enc = new TextEncoder();

async function sha256(parts: readonly Uint8Array[]): Promise<string> {
  const all = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
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

async function step(snapshot: MeshSnapshot, xds: XdsResources): Promise<StepResult> {
  const issues = [...snapshot.issues, ...xds.warnings];
  const groups: XdsGroup[] = [];
  const everything: Uint8Array[] = [];
  let decoded = 0;
  for (const typeUrl of [...PUSH_ORDER, ...[...xds.resources.keys()].filter((t) => !PUSH_ORDER.includes(t)).sort()]) {
    const byName = xds.resources.get(typeUrl);
    if (!byName?.size) continue;
    const names = [...byName.keys()].sort();
    const parts = names.flatMap((n) => [enc.encode(n), byName.get(n)!.bytes]);
    for (const n of names) if (decodeResource(typeUrl, byName.get(n)!.bytes)) decoded++;
    everything.push(...parts);
    groups.push({ typeUrl, names, bytes: names.reduce((sum, n) => sum + byName.get(n)!.bytes.length, 0), sha256: await sha256(parts) });
  }
  return {
    version: snapshot.version,
    issues: issues.map((i) => `${i.severity}: ${formatIssue(i)}`),
    errors: issues.filter((i) => i.severity === 'error').length,
    warnings: issues.filter((i) => i.severity === 'warning').length,
    resourceCounts: Object.fromEntries([...snapshot.resources].map(([kind, list]) => [kind, list.length]).sort()),
    trustDomain: snapshot.mesh.trustDomain,
    services: snapshot.services.map((s) => `${s.key} -> ${s.endpoints.map((e) => e.address).join(',')}`),
    workloads: snapshot.workloads.map((w) => `${w.uid}@${w.node} ${w.identity} ${w.addresses.join(',')}`),
    xds: groups,
    totalResources: groups.reduce((n, g) => n + g.names.length, 0),
    totalBytes: groups.reduce((n, g) => n + g.bytes, 0),
    decoded,
    sha256: await sha256(everything),
  };
}

function delta(before: XdsResources, after: XdsResources): string[] {
  const out: string[] = [];
  for (const typeUrl of new Set([...before.resources.keys(), ...after.resources.keys()])) {
    const a = before.resources.get(typeUrl) ?? new Map();
    const b = after.resources.get(typeUrl) ?? new Map();
    const short = typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
    for (const name of new Set([...a.keys(), ...b.keys()])) if (a.get(name)?.version !== b.get(name)?.version) out.push(`${short} ${name}`);
  }
  return out.sort();
}

export async function runCoreScenario(): Promise<ScenarioResult> {
  const translator = new XdsTranslator();
  const load = (store: ConfigStore, files: readonly SourceFile[]): { snapshot: MeshSnapshot; xds: XdsResources } => {
    store.sink('scenario').replaceFiles(files);
    return { snapshot: store.snapshot, xds: translator.translate(store.snapshot) };
  };
  const sample = load(new ConfigStore(), SAMPLE_FILES);
  const store = new ConfigStore();
  const initial = load(store, SCENARIO_FILES);
  const changed = load(store, SCENARIO_CHANGE);
  const now = systemClock.now();
  const mono = systemClock.monotonic();
  return {
    pipeline: 'core',
    sample: await step(sample.snapshot, sample.xds),
    initial: await step(initial.snapshot, initial.xds),
    changed: await step(changed.snapshot, changed.xds),
    delta: delta(initial.xds, changed.xds),
    clockOk: Number.isFinite(now) && now > 1.6e12 && Number.isFinite(mono) && mono >= 0,
  };
}
