/**
 * Turns zod's issues into the words a user reads (`is required`, `must be 0..100`, `must be one of
 * ALLOW, DENY`), and separates unknown fields (warnings) from errors.
 */
import type * as z from './schema/zod.ts';
import type { PathSegment } from './field-path.ts';

export interface FieldProblem {
  path: PathSegment[];
  message: string;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a map',
  record: 'a map',
  bigint: 'an integer',
};

function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

const isDefault = (msg: string) => /^(Invalid|Too (big|small)|Unrecognized)/.test(msg);

export function issueMessage(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return 'is required';
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected} (got ${show(input)})`;
    case 'too_small':
    case 'too_big': {
      if (!isDefault(issue.message)) return issue.message;
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const word = issue.code === 'too_small' ? 'at least' : 'at most';
      if (issue.origin === 'array' || issue.origin === 'set') return `must have ${word} ${bound} item${Number(bound) === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return Number(bound) === 1 && issue.code === 'too_small' ? 'must not be empty' : `must be ${word} ${bound} characters`;
      return `must be ${word} ${bound}`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${show(issue.values[0])}` : `must be one of ${issue.values.map((v) => String(v)).join(', ')} (got ${show(input)})`;
    case 'invalid_format':
      return isDefault(issue.message) ? `has an invalid format (${issue.format})` : issue.message;
    case 'invalid_union':
      return isDefault(issue.message) ? `has an invalid value (got ${show(input)})` : issue.message;
    case 'invalid_key':
      return `has an invalid key: ${issue.issues.map((i) => issueMessage(i)).join('; ')}`;
    case 'invalid_element':
      return `has an invalid element: ${issue.issues.map((i) => issueMessage(i)).join('; ')}`;
    default:
      return issue.message;
  }
}

/** Splits zod's issues: unknown fields (one per key) and everything else. */
export function sortIssues(issues: readonly z.core.$ZodIssue[]): { errors: FieldProblem[]; unknownFields: PathSegment[][] } {
  const errors: FieldProblem[] = [];
  const unknownFields: PathSegment[][] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) unknownFields.push([...path, key]);
    } else {
      errors.push({ path, message: issueMessage(issue) });
    }
  }
  return { errors, unknownFields };
}

/** A deep copy without the given fields, so a resource with only unknown fields can be parsed again. */
export function withoutFields(value: unknown, paths: readonly PathSegment[][]): unknown {
  const copy = structuredClone(value);
  for (const path of paths) {
    let node: unknown = copy;
    for (const seg of path.slice(0, -1)) node = (node as Record<PathSegment, unknown> | undefined)?.[seg];
    if (node && typeof node === 'object') delete (node as Record<PathSegment, unknown>)[path[path.length - 1]!];
  }
  return copy;
}
