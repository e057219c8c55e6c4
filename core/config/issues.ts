/**
 * Validation issues are data, not exceptions (conventions.md 4): every message names the
 * file and line, the resource and the field path, in words a user understands.
 */

export interface ResourceRef {
  kind: string;
  namespace: string;
  name: string;
}

export type Severity = 'error' | 'warning';

export interface ConfigIssue {
  severity: Severity;
  /** Source file as shown to the user ('' when the resource did not come from a file). */
  file: string;
  /** 1-based line of the field (or of the resource when the field is absent); 0 when unknown. */
  line: number;
  /** The resource, when the issue belongs to one (a YAML syntax error belongs to a file only). */
  resource?: ResourceRef;
  /** Field path in the resource, e.g. `spec.http[0].route[1].weight`; '' for the whole resource. */
  path: string;
  message: string;
}

export function refText(ref: ResourceRef): string {
  return ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}

/** `file:line: Kind ns/name: path: message`, the one format used by analyze, status and NACKs. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.file ? `${issue.file}${issue.line ? `:${issue.line}` : ''}: ` : '';
  const what = issue.resource ? `${refText(issue.resource)}: ` : '';
  const field = issue.path ? `${issue.path}: ` : '';
  return `${where}${what}${field}${issue.message}`;
}
