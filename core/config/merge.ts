/**
 * The Store's rule of rejection: units (files, or objects from a watch) in source order, each with its
 * latest verdicts, merged into the accepted set. The resource is the unit of rejection: a rejected
 * resource keeps its last good version; a file that no longer parses keeps all its previous resources;
 * the second definition of a name is an error naming both places.
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
  /** A hash of the canonical content (Entry.content). */
  content: string;
  /** Where it came from, to find field lines again. */
  at?: Entry['at'];
  nameLine?: number;
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

interface Claim {
  unit: string;
  index: number;
  entry: Entry;
}

const before = (a: Claim, b: Claim) => a.unit < b.unit || (a.unit === b.unit && a.index < b.index);

/**
 * The merge kept up to date as units change: each unit's claims on resource ids, and per id the verdict
 * (accepted, duplicate, or rejected with the last good version kept). A change of one unit recomputes
 * the verdicts of the ids it claims, so a change costs its unit, not every resource of the mesh.
 */
export class UnitMerger {
  readonly #contrib = new Map<string, { claims: Claim[]; issues: ConfigIssue[] }>();
  readonly #claims = new Map<string, Claim[]>();
  readonly #accepted = new Map<string, Accepted>();
  readonly #unitIssues = new Map<string, ConfigIssue[]>();
  readonly #idIssues = new Map<string, ConfigIssue[]>();
  readonly #touched = new Set<string>();

  /** The accepted set, kept up to date by merge(). */
  get accepted(): ReadonlyMap<string, Accepted> {
    return this.#accepted;
  }

  /** A unit as it is now (undefined: gone); takes effect at the next merge(). */
  update(key: string, unit: Unit | undefined): void {
    const old = this.#contrib.get(key);
    for (const c of old?.claims ?? []) {
      const id = c.entry.id!;
      const list = this.#claims.get(id)!.filter((x) => x !== c);
      if (list.length > 0) this.#claims.set(id, list);
      else this.#claims.delete(id);
      this.#touched.add(id);
    }
    this.#contrib.delete(key);
    this.#unitIssues.delete(key);
    if (!unit) return;
    const claims: Claim[] = [];
    const issues: ConfigIssue[] = [];
    if (unit.failure) {
      issues.push(...unit.failure);
      const kept = unit.good?.entries.filter((e) => e.resource).length ?? 0;
      if (kept > 0) issues.push({ severity: 'warning', file: unit.file, line: 0, path: '', message: `this file could not be read; its ${kept} previous resource${kept === 1 ? '' : 's'} stay in force` });
    }
    if (unit.good) {
      issues.push(...unit.good.warnings);
      unit.good.entries.forEach((entry, index) => {
        if (entry.issues.length > 0) issues.push(...entry.issues);
        if (!entry.id || (!entry.resource && !entry.issues.some((i) => i.severity === 'error'))) return;
        const claim: Claim = { unit: key, index, entry };
        claims.push(claim);
        const list = this.#claims.get(entry.id);
        if (!list) this.#claims.set(entry.id, [claim]);
        else {
          let at = list.length;
          while (at > 0 && before(claim, list[at - 1]!)) at--;
          list.splice(at, 0, claim);
        }
        this.#touched.add(entry.id);
      });
    }
    this.#contrib.set(key, { claims, issues });
    if (issues.length > 0) this.#unitIssues.set(key, issues);
  }

  /**
   * Verdicts of the ids the updates touched: the ids whose accepted resource changed (with the value
   * before), and every current issue.
   */
  merge(): { changed: Map<string, Accepted | undefined>; issues: ConfigIssue[] } {
    const changed = new Map<string, Accepted | undefined>();
    for (const id of this.#touched) {
      const was = this.#accepted.get(id);
      const { accepted, issues } = verdict(this.#claims.get(id) ?? [], was);
      if (accepted !== was) {
        changed.set(id, was);
        if (accepted) this.#accepted.set(id, accepted);
        else this.#accepted.delete(id);
      }
      if (issues.length > 0) this.#idIssues.set(id, issues);
      else this.#idIssues.delete(id);
    }
    this.#touched.clear();
    const issues: ConfigIssue[] = [];
    for (const key of [...this.#unitIssues.keys()].sort()) issues.push(...this.#unitIssues.get(key)!);
    const byId: ConfigIssue[] = [];
    for (const list of this.#idIssues.values()) byId.push(...list);
    issues.push(...byId.sort(compareIssueText));
    return { changed, issues };
  }
}

/**
 * One id's verdict from its claims in source order: the first definition is accepted and later ones are
 * duplicates; with no definition left, a rejected one keeps the last good version (`lastGood`).
 */
function verdict(claims: readonly Claim[], lastGood: Accepted | undefined): { accepted?: Accepted; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  let first: Accepted | undefined;
  let rejected: Entry | undefined;
  for (const { entry } of claims) {
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
      first = acceptedOf(entry);
    } else if (!first) {
      rejected = entry;
    }
  }
  if (first) return { accepted: first, issues };
  if (!rejected || !lastGood) return { issues };
  issues.push({
    severity: 'warning',
    file: rejected.origin.file,
    line: rejected.origin.line,
    ...(rejected.ref ? { resource: rejected.ref } : {}),
    path: '',
    message: `rejected; its last good version (read from ${where(lastGood.resource.origin)}) stays in force`,
  });
  return { accepted: lastGood, issues };
}

function compareIssueText(a: ConfigIssue, b: ConfigIssue): number {
  const x = `${a.file}\0${a.line}\0${a.message}`;
  const y = `${b.file}\0${b.line}\0${b.message}`;
  return x < y ? -1 : x > y ? 1 : 0;
}
