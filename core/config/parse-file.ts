/**
 * A source file's text to verdicts: multi-document YAML, each document one resource or a `kind: List`
 * of them. YAML 1.2 scalars (only true/false are booleans: a node named `n` stays a string, where YAML
 * 1.1 would read false), with `<<` merge keys as Kubernetes' decoder allows them. A YAML error anywhere
 * makes the whole file unparsable: the Store then keeps what the file held before.
 *
 * The YAML parser costs about 0.2 ms per small document, so a file of 10,000 documents is split at its
 * `---` lines (a `---` at the start of a line always starts a document, even inside a scalar) and each
 * piece's verdicts are cached by its text: a change re-reads only the pieces that changed.
 */
import { LineCounter, parseAllDocuments } from 'yaml';
import type { SourceFile } from '../ports/index.ts';
import type { ConfigIssue } from './issues.ts';
import { yamlLocator, type PathSegment } from './field-path.ts';
import { validateObject, type Entry } from './validate.ts';

export type ParsedFile =
  | { ok: true; entries: Entry[]; issues: ConfigIssue[]; cache: ChunkCache }
  | { ok: false; issues: ConfigIssue[] };

/** Verdicts per piece of text (line numbers relative to the piece), kept from a file's last read. */
export type ChunkCache = Map<string, Chunk>;
interface Chunk {
  ok: boolean;
  /**
   * The verdicts placed where the piece last sat (`line`, 0-based): reused while it stays there, so
   * resources keep their identity; moved (copied) when it moves. Only the placed copy is kept.
   */
  line: number;
  entries: Entry[];
  issues: ConfigIssue[];
}

/** First line of a YAML error, without the "at line N, column M" tail the position already gives. */
const shortMessage = (m: string) => m.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');

/** Pieces of `text` starting at `---` lines, with the 0-based line each starts on; one piece when directives are used. */
export function splitDocuments(text: string): { text: string; line: number }[] {
  if (/^%/m.test(text)) return [{ text, line: 0 }];
  const out: { text: string; line: number }[] = [];
  let start = 0;
  let startLine = 0;
  let line = 0;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    if (pos > start && text.startsWith('---', pos) && /^---(\s|$)/.test(text.slice(pos, pos + 4))) {
      out.push({ text: text.slice(start, pos), line: startLine });
      start = pos;
      startLine = line;
    }
    pos = end;
    line++;
  }
  out.push({ text: text.slice(start), line: startLine });
  return out;
}

function parseChunk(path: string, text: string): Chunk {
  const lineCounter = new LineCounter();
  const docs = [...parseAllDocuments(text, { lineCounter, merge: true })];
  const issues: ConfigIssue[] = [];
  const err = (line: number, message: string): ConfigIssue => ({ severity: 'error', file: path, line, path: '', message });
  for (const doc of docs) for (const e of doc.errors) issues.push(err(e.linePos?.[0].line ?? 0, `YAML syntax error: ${shortMessage(e.message)}`));
  if (issues.length > 0) return { ok: false, line: 0, entries: [], issues };
  const entries: Entry[] = [];
  for (const [docIndex, doc] of docs.entries()) {
    for (const w of doc.warnings) issues.push({ severity: 'warning', file: path, line: w.linePos?.[0].line ?? 0, path: '', message: `YAML: ${shortMessage(w.message)}` });
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      return { ok: false, line: 0, entries: [], issues: [err(lineCounter.linePos(doc.range[0]).line, `YAML: ${(e as Error).message}`)] };
    }
    // An empty document (a stray `---`, a file of comments) is allowed, as kubectl allows it.
    if (value === null || value === undefined) continue;
    const locator = yamlLocator(doc, lineCounter);
    const at = (base: PathSegment[]) => ({ text, doc: docIndex, base, lineOffset: 0 });
    const obj = value as Record<string, unknown>;
    if (typeof obj === 'object' && !Array.isArray(obj) && obj.kind === 'List' && Array.isArray(obj.items)) {
      obj.items.forEach((item, i) => entries.push({ ...validateObject(item, { file: path, locator, base: ['items', i] }), at: at(['items', i]) }));
    } else {
      entries.push({ ...validateObject(value, { file: path, locator }), at: at([]) });
    }
  }
  return { ok: true, line: 0, entries, issues };
}

const shiftIssue = (i: ConfigIssue, by: number): ConfigIssue => (i.line ? { ...i, line: i.line + by } : i);

/** A cached piece's verdicts moved down `by` lines (a piece above it grew or shrank). */
function shiftEntry(e: Entry, by: number): Entry {
  if (by === 0) return e;
  const origin = { file: e.origin.file, line: e.origin.line + by };
  return {
    ...e,
    origin,
    issues: e.issues.map((i) => shiftIssue(i, by)),
    ...(e.nameLine ? { nameLine: e.nameLine + by } : {}),
    ...(e.at ? { at: { ...e.at, lineOffset: e.at.lineOffset + by } } : {}),
    ...(e.resource ? { resource: Object.freeze({ ...e.resource, origin: Object.freeze(origin) }) } : {}),
  };
}

/** Parses a file; `previous` is the cache its last good read returned, so unchanged pieces are not parsed again. */
export function parseSourceFile(file: SourceFile, previous?: ChunkCache): ParsedFile {
  const cache: ChunkCache = new Map();
  const entries: Entry[] = [];
  const issues: ConfigIssue[] = [];
  let ok = true;
  const seen = new Set<Chunk>();
  for (const piece of splitDocuments(file.text)) {
    let chunk = cache.get(piece.text) ?? previous?.get(piece.text);
    if (!chunk) chunk = parseChunk(file.path, piece.text);
    cache.set(piece.text, chunk);
    if (!chunk.ok) ok = false;
    let placed: { entries: Entry[]; issues: ConfigIssue[] } = chunk;
    if (chunk.line !== piece.line) {
      const by = piece.line - chunk.line;
      placed = { entries: chunk.entries.map((e) => shiftEntry(e, by)), issues: chunk.issues.map((i) => shiftIssue(i, by)) };
      // The same text twice in one file sits at two places: the first keeps the memo.
      if (!seen.has(chunk)) Object.assign(chunk, placed, { line: piece.line });
    }
    seen.add(chunk);
    issues.push(...placed.issues);
    for (const e of placed.entries) entries.push(e);
  }
  if (!ok) return { ok: false, issues: issues.filter((i) => i.severity === 'error') };
  return { ok: true, entries, issues, cache };
}

/** Re-reads a piece of text to find field lines of resources parsed from it earlier (warnings found later). */
export function chunkLocator(text: string): (at: NonNullable<Entry['at']>, path: readonly PathSegment[]) => number {
  const lineCounter = new LineCounter();
  const docs = [...parseAllDocuments(text, { lineCounter, merge: true })];
  return (at, path) => {
    const doc = docs[at.doc];
    return doc ? yamlLocator(doc, lineCounter, at.base).line(path) + at.lineOffset : 0;
  };
}
