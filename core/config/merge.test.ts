import { describe, expect, it } from 'vitest';
import { ConfigStore } from './store.ts';
import { parseSourceFile } from './parse-file.ts';
import { buildMesh } from './build-snapshot.ts';
import { sortResources } from './list-diff.ts';
import type { ConfigIssue } from './issues.ts';
import type { Entry } from './validate.ts';
import type { ConfigResource } from './snapshot.ts';
import { RandomMesh } from '../../test/support/random-mesh.ts';

interface Unit {
  key: string;
  file: string;
  good?: { entries: readonly Entry[]; warnings: readonly ConfigIssue[] };
  failure?: readonly ConfigIssue[];
}

const where = (o: { file: string; line: number }) => (o.line ? `${o.file}:${o.line}` : o.file);

/** The rule of rejection written plainly over every unit at once: the oracle for the Store's incremental merge. */
function mergeAll(units: readonly Unit[], lastGood: ReadonlyMap<string, ConfigResource>) {
  const accepted = new Map<string, ConfigResource>();
  const nameLines = new Map<string, number | undefined>();
  const issues: ConfigIssue[] = [];
  const rejected = new Map<string, Entry>();
  for (const unit of units) {
    if (unit.failure) {
      issues.push(...unit.failure);
      const kept = unit.good?.entries.filter((e) => e.resource).length ?? 0;
      if (kept > 0) issues.push({ severity: 'warning', file: unit.file, line: 0, path: '', message: `this file could not be read; its ${kept} previous resource${kept === 1 ? '' : 's'} stay in force` });
    }
    if (!unit.good) continue;
    issues.push(...unit.good.warnings);
    for (const entry of unit.good.entries) {
      issues.push(...entry.issues);
      if (!entry.id) continue;
      const first = accepted.get(entry.id);
      if (entry.resource && first) {
        const firstAt = { file: first.origin.file, line: nameLines.get(entry.id) || first.origin.line };
        issues.push({
          severity: 'error', file: entry.origin.file, line: entry.nameLine ?? entry.origin.line, ...(entry.ref ? { resource: entry.ref } : {}), path: 'metadata.name',
          message: `duplicate: ${entry.ref?.kind} ${entry.ref?.namespace ? `${entry.ref.namespace}/` : ''}${entry.ref?.name} is also defined at ${where(firstAt)}; this definition is ignored`,
        });
      } else if (entry.resource) {
        accepted.set(entry.id, entry.resource);
        nameLines.set(entry.id, entry.nameLine);
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
    issues.push({ severity: 'warning', file: entry.origin.file, line: entry.origin.line, ...(entry.ref ? { resource: entry.ref } : {}), path: '', message: `rejected; its last good version (read from ${where(previous.origin)}) stays in force` });
  }
  return { accepted, issues };
}

const noLine = (issues: readonly ConfigIssue[]) => issues.map((i) => JSON.stringify({ ...i, line: 0 })).sort();
const described = (r: ConfigResource) => JSON.stringify([r.kind, r.metadata, r.spec, r.extra, r.origin]);

describe('the Store merges incrementally', () => {
  for (const seed of [21, 22, 23, 24]) {
    it(`as the rule of rejection over every file says (seed ${seed})`, () => {
      const mesh = new RandomMesh(seed);
      const store = new ConfigStore();
      const sink = store.sink('dir');
      const units = new Map<string, Unit>();
      let lastGood = new Map<string, ConfigResource>();
      const parsedByText = new Map<string, ReturnType<typeof parseSourceFile>>();
      let duplicates = 0;
      let fallbacks = 0;
      for (let step = 0; step < 100; step++) {
        const what = step === 0 ? 'initial' : mesh.edit();
        sink.replaceFiles(mesh.list);
        for (const key of [...units.keys()]) if (!mesh.files.has(key)) units.delete(key);
        for (const [path, text] of mesh.files) {
          let parsed = parsedByText.get(`${path}\0${text}`);
          if (!parsed) parsedByText.set(`${path}\0${text}`, (parsed = parseSourceFile({ path, text })));
          const prev = units.get(path);
          units.set(path, parsed.ok ? { key: path, file: path, good: { entries: parsed.entries, warnings: parsed.issues } } : { key: path, file: path, ...(prev?.good ? { good: prev.good } : {}), failure: parsed.issues });
        }
        const merged = mergeAll([...units.values()].sort((a, b) => (a.key < b.key ? -1 : 1)), lastGood);
        lastGood = merged.accepted;
        const label = `seed ${seed} step ${step}: ${what}`;
        const snap = store.snapshot;
        duplicates += snap.issues.filter((i) => i.message.startsWith('duplicate')).length;
        fallbacks += snap.issues.filter((i) => i.message.includes('last good version')).length;
        expect([...snap.resources.values()].flat().map(described).sort(), label).toEqual([...merged.accepted.values()].map(described).sort());
        const byKind = new Map<string, ConfigResource[]>();
        for (const r of merged.accepted.values()) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r]);
        const resources = new Map([...byKind.keys()].sort().map((k) => [k, sortResources(byKind.get(k)!)]));
        const built = buildMesh(snap.mesh, resources);
        expect(noLine(snap.issues), label).toEqual(noLine([...merged.issues, ...built.warnings]));
      }
      // The sequence went through duplicates and rejected resources kept at their last good version.
      expect(duplicates).toBeGreaterThan(0);
      expect(fallbacks).toBeGreaterThan(0);
    });
  }
});
