/**
 * A source file's text to verdicts: multi-document YAML (YAML 1.1 scalars, as Kubernetes' decoder reads
 * `yes`/`no`), each document one resource or a `kind: List` of them. A YAML error anywhere makes the
 * whole file unparsable: the Store then keeps what the file held before.
 */
import { LineCounter, parseAllDocuments } from 'yaml';
import type { SourceFile } from '../ports/index.ts';
import type { ConfigIssue } from './issues.ts';
import { yamlLocator, type PathSegment } from './field-path.ts';
import { validateObject, type Entry } from './validate.ts';

export type ParsedFile =
  | { ok: true; entries: Entry[]; issues: ConfigIssue[] }
  | { ok: false; issues: ConfigIssue[] };

/** First line of a YAML error, without the "at line N, column M" tail the position already gives. */
const shortMessage = (m: string) => m.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');

export function parseSourceFile(file: SourceFile): ParsedFile {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(file.text, { lineCounter, version: '1.1', merge: true });
  // An empty stream is an empty array too (yaml's EmptyStream).
  const list = [...docs];
  const issues: ConfigIssue[] = [];
  for (const doc of list) {
    for (const e of doc.errors) {
      issues.push({ severity: 'error', file: file.path, line: e.linePos?.[0].line ?? 0, path: '', message: `YAML syntax error: ${shortMessage(e.message)}` });
    }
  }
  if (issues.length > 0) return { ok: false, issues };

  const entries: Entry[] = [];
  for (const [docIndex, doc] of list.entries()) {
    for (const w of doc.warnings) issues.push({ severity: 'warning', file: file.path, line: w.linePos?.[0].line ?? 0, path: '', message: `YAML: ${shortMessage(w.message)}` });
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      issues.push({ severity: 'error', file: file.path, line: lineCounter.linePos(doc.range[0]).line, path: '', message: `YAML: ${(err as Error).message}` });
      return { ok: false, issues };
    }
    // An empty document (a stray `---`, a file of comments) is allowed, as kubectl allows it.
    if (value === null || value === undefined) continue;
    const locator = yamlLocator(doc, lineCounter);
    const obj = value as Record<string, unknown>;
    if (obj && typeof obj === 'object' && !Array.isArray(obj) && obj.kind === 'List' && Array.isArray(obj.items)) {
      obj.items.forEach((item, i) => entries.push({ ...validateObject(item, { file: file.path, locator, base: ['items', i] }), at: { doc: docIndex, base: ['items', i] } }));
    } else {
      entries.push({ ...validateObject(value, { file: file.path, locator }), at: { doc: docIndex, base: [] } });
    }
  }
  return { ok: true, entries, issues };
}

/** Re-reads a file's text to find field lines of resources parsed from it earlier (warnings found later). */
export function fileLocator(text: string): (at: { doc: number; base: PathSegment[] }, path: readonly PathSegment[]) => number {
  const lineCounter = new LineCounter();
  const docs = [...parseAllDocuments(text, { lineCounter, version: '1.1', merge: true })];
  return (at, path) => {
    const doc = docs[at.doc];
    return doc ? yamlLocator(doc, lineCounter, at.base).line(path) : 0;
  };
}
