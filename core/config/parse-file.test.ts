import { describe, expect, it } from 'vitest';
import { parseSourceFile, splitDocuments } from './parse-file.ts';
import { formatIssue } from './issues.ts';

describe('parseSourceFile', () => {
  it('reads a kind: List, naming items by their own fields and lines', () => {
    const text = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: a}
- apiVersion: v1
  kind: Service
  metadata: {name: web}
  spec:
    ports:
    - port: 0
`;
    const r = parseSourceFile({ path: 'list.yaml', text });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.entries.map((e) => e.ref?.name)).toEqual(['a', 'web']);
    expect(r.entries[1]!.issues.map(formatIssue)).toEqual(['list.yaml:12: Service default/web: spec.ports[0].port: must be 1..65535']);
    expect(r.entries[1]!.origin.line).toBe(7);
  });

  it('allows empty documents and comment-only files', () => {
    const r = parseSourceFile({ path: 'a.yaml', text: '# nothing here\n---\n---\n# still nothing\n' });
    expect(r).toMatchObject({ ok: true, entries: [], issues: [] });
  });

  it('rejects a document that is not a map', () => {
    const r = parseSourceFile({ path: 'a.yaml', text: '- just\n- a list\n' });
    expect(r.ok && r.entries[0]!.issues.map(formatIssue)).toEqual(['a.yaml:1: expected a resource (a map with apiVersion, kind and metadata)']);
  });

  it('reports missing apiVersion and kind', () => {
    const r = parseSourceFile({ path: 'a.yaml', text: 'metadata: {name: x}\nspec: {}\n' });
    expect(r.ok && r.entries[0]!.issues.map(formatIssue)).toEqual(['a.yaml:1: apiVersion: is required', 'a.yaml:1: kind: is required']);
  });

  it('reads merge keys, as Kubernetes does', () => {
    const text = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports:
  - &http {name: http, port: 80}
  - <<: *http
    name: alt
    port: 81
`;
    const r = parseSourceFile({ path: 'a.yaml', text });
    expect(r.ok && r.entries[0]!.issues).toEqual([]);
    expect(r.ok && (r.entries[0]!.resource!.spec as { ports: { name: string; port: number }[] }).ports.map((p) => `${p.name}:${p.port}`)).toEqual(['http:80', 'alt:81']);
  });
});

describe('splitDocuments', () => {
  it('splits at --- lines only', () => {
    const text = 'a: 1\n---\nb: |\n  --- not a marker when indented\n--- # comment\nc: 3\n';
    expect(splitDocuments(text)).toEqual([
      { text: 'a: 1\n', line: 0 },
      { text: '---\nb: |\n  --- not a marker when indented\n', line: 1 },
      { text: '--- # comment\nc: 3\n', line: 4 },
    ]);
  });
  it('keeps a file with directives whole', () => {
    const text = '%YAML 1.2\n---\na: 1\n';
    expect(splitDocuments(text)).toEqual([{ text, line: 0 }]);
  });
  it('reports a syntax error at its line in the file', () => {
    const text = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: [x\n';
    const r = parseSourceFile({ path: 'a.yaml', text });
    expect(r.ok).toBe(false);
    expect(r.issues[0]!.line).toBeGreaterThanOrEqual(6);
  });
});

describe('Secrets', () => {
  it('folds stringData into data, as the API server does', () => {
    const r = parseSourceFile({ path: 's.yaml', text: 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: Zm9v\nstringData:\n  tls.key: bär\n' });
    expect(r.ok && r.entries[0]!.resource!.extra).toEqual({ type: 'kubernetes.io/tls', data: { 'tls.crt': 'Zm9v', 'tls.key': 'YsOkcg==' } });
  });
});
