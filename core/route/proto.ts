/**
 * Reading the decoded static protobuf objects (core/xds/pb.ts): oneof members are null when unset
 * on decoded messages and undefined on literals, wrappers are `{value}`, Durations `{seconds,
 * nanos}` (numbers: the module is built with --force-number), enums numbers.
 */
import type { envoy, google } from '../xds/generated/xds-pb.js';

type Duration = google.protobuf.Duration.$Properties;
type FractionalPercent = envoy.type.v3.FractionalPercent.$Properties;

export function set<T>(v: T | null | undefined): v is T {
  return v !== null && v !== undefined;
}

/** Milliseconds of a Duration, or `dflt` when absent. */
export function durationMs(d: Duration | null | undefined, dflt: number): number {
  if (!set(d)) return dflt;
  return Number(d.seconds ?? 0) * 1000 + Math.round(Number(d.nanos ?? 0) / 1e6);
}

export function wrapped<T>(w: { value?: T | null } | null | undefined, dflt: T): T {
  return set(w) && set(w.value) ? w.value : dflt;
}

const DENOMINATORS = [100, 10_000, 1_000_000];

/** A FractionalPercent as a probability in [0, 1]; absent: `dflt`. */
export function fraction(p: FractionalPercent | null | undefined, dflt: number): number {
  if (!set(p)) return dflt;
  const d = DENOMINATORS[p.denominator ?? 0] ?? 100;
  return Math.min(1, Math.max(0, Number(p.numerator ?? 0) / d));
}

/** A Struct's string fields (metadata). */
export function structStrings(s: google.protobuf.Struct.$Properties | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!set(s) || !s.fields) return out;
  for (const [k, v] of Object.entries(s.fields)) if (set(v?.stringValue)) out[k] = v.stringValue;
  return out;
}

export function structField(s: google.protobuf.Struct.$Properties | null | undefined, key: string): google.protobuf.Value.$Properties | undefined {
  return s?.fields?.[key] ?? undefined;
}
