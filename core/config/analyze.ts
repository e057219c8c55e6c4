/**
 * One-shot validation of a set of files, as `weft analyze` and tests use it: the same Store path the
 * control plane takes, so analyze reports exactly what `weft control` would.
 */
import type { SourceFile } from '../ports/index.ts';
import type { ConfigIssue } from './issues.ts';
import type { MeshSnapshot } from './snapshot.ts';
import { ConfigStore, type StoreOptions, type UnreadableFile } from './store.ts';

export interface AnalyzeResult {
  snapshot: MeshSnapshot;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

export function analyzeFiles(files: readonly SourceFile[], opts: StoreOptions & { unreadable?: readonly UnreadableFile[] } = {}): AnalyzeResult {
  const store = new ConfigStore(opts);
  store.sink('analyze').replaceFiles(files, opts.unreadable);
  const snapshot = store.snapshot;
  return {
    snapshot,
    errors: snapshot.issues.filter((i) => i.severity === 'error'),
    warnings: snapshot.issues.filter((i) => i.severity === 'warning'),
  };
}
