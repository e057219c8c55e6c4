/**
 * The Store's rule of rejection, as a pure function: units (files, or objects from a watch) in source
 * order, each with its latest verdicts, merged into the accepted set. The resource is the unit of
 * rejection: a rejected resource keeps its last good version; a file that no longer parses keeps all its
 * previous resources; the second definition of a name is an error naming both places.
 */
import type { ConfigIssue } from './issues.ts';
import type { ConfigResource } from './snapshot.ts';
import type { Entry } from './validate.ts';
import type { ChunkCache } from './parse-file.ts';

/** One file (or watched object) as the Store last saw it. */
export interface Unit {
  key: string;
  /** The path shown in messages. */
  file: string;
  /** The last text that parsed, and its verdicts. */
  good?: { text?: string; entries: readonly Entry[]; warnings: readonly ConfigIssue[]; cache?: ChunkCache };
  /** Why the latest text could not be used (syntax error, unreadable), when it could not. */
  failure?: readonly ConfigIssue[];
}

export interface Accepted {
  resource: ConfigResource;
  content: string;
  /** Where it came from, to find field lines again. */
  at?: Entry['at'];
  nameLine?: number;
}

export interface Merged {
  accepted: Map<string, Accepted>;
  issues: ConfigIssue[];
}

/** One Accepted per verdict, made once: a verdict is kept as long as its text is, and merged on every change. */
const acceptedOfEntry = new WeakMap<Entry, Accepted>();
function acceptedOf(entry: Entry): Accepted {
  let a = acceptedOfEntry.get(entry);
  if (!a) {
    a = {
      resource: entry.resource!,
      content: entry.content!,
      ...(entry.at ? { at: entry.at } : {}),
      ...(entry.nameLine ? { nameLine: entry.nameLine } : {}),
    };
    acceptedOfEntry.set(entry, a);
  }
  return a;
}

const where = (o: { file: string; line: number }) => (o.line ? `${o.file}:${o.line}` : o.file);

export function mergeUnits(units: readonly Unit[], lastGood: ReadonlyMap<string, Accepted>): Merged {
  const accepted = new Map<string, Accepted>();
  const issues: ConfigIssue[] = [];
  const rejected = new Map<string, Entry>();
  for (const unit of units) {
    if (unit.failure) {
      issues.push(...unit.failure);
      const kept = unit.good?.entries.filter((e) => e.resource).length ?? 0;
      if (kept > 0) issues.push({ severity: 'warning', file: unit.file, line: 0, path: '', message: `this file could not be read; its ${kept} previous resource${kept === 1 ? '' : 's'} stay in force` });
    }
    if (!unit.good) continue;
    if (unit.good.warnings.length > 0) issues.push(...unit.good.warnings);
    for (const entry of unit.good.entries) {
      if (entry.issues.length > 0) issues.push(...entry.issues);
      if (!entry.id) continue;
      const first = accepted.get(entry.id);
      if (entry.resource && first) {
        const firstAt = { file: first.resource.origin.file, line: first.nameLine ?? first.resource.origin.line };
        issues.push({
          severity: 'error',
          file: entry.origin.file,
          line: entry.nameLine ?? entry.origin.line,
          ...(entry.ref ? { resource: entry.ref } : {}),
          path: 'metadata.name',
          message: `duplicate: ${entry.ref?.kind} ${entry.ref?.namespace ? `${entry.ref.namespace}/` : ''}${entry.ref?.name} is also defined at ${where(firstAt)}; this definition is ignored`,
        });
      } else if (entry.resource) {
        accepted.set(entry.id, acceptedOf(entry));
        rejected.delete(entry.id);
      } else if (entry.issues.some((i) => i.severity === 'error') && !accepted.has(entry.id)) {
        rejected.set(entry.id, entry);
      }
    }
  }
  for (const [id, entry] of rejected) {
    const previous = lastGood.get(id);
    if (!previous || accepted.has(id)) continue;
    accepted.set(id, previous);
    issues.push({
      severity: 'warning',
      file: entry.origin.file,
      line: entry.origin.line,
      ...(entry.ref ? { resource: entry.ref } : {}),
      path: '',
      message: `rejected; its last good version (read from ${where(previous.resource.origin)}) stays in force`,
    });
  }
  return { accepted, issues };
}
