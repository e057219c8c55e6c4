/**
 * `weft edge build --gateway NS/NAME [--config DIR] [--mesh FILE]`: the snapshot made at build
 * time, exactly as `weft edge snapshot` makes it (validation issues on stderr as `weft analyze`
 * prints them; errors refuse the build).
 */
import type { EdgeSnapshot } from '../../edge/config-contract.ts';

export async function snapshotFromConfig(o: { gateway: { namespace: string; name: string }; config?: string; mesh?: string; labels: Record<string, string>; stderr: (line: string) => void }): Promise<EdgeSnapshot> {
  const { collectFiles, issueLine } = await import('../config/analyze-run.ts');
  const { loadMeshFile } = await import('../config/mesh-file.ts');
  const { SAMPLE_FILES } = await import('../../../core/config/sample/index.ts');
  const { buildEdgeSnapshot } = await import('../xds/edge-snapshot.ts');
  const read = o.config ? await collectFiles([o.config]) : { files: [...SAMPLE_FILES], unreadable: [] };
  const meshFile = o.mesh ? await loadMeshFile(o.mesh) : undefined;
  const result = buildEdgeSnapshot({ files: read.files, unreadable: read.unreadable, ...(meshFile ? { meshFile } : {}), gateway: o.gateway, labels: o.labels });
  for (const i of result.issues) o.stderr(issueLine(i));
  if (!result.ok) throw new Error(result.message);
  return result.snapshot;
}
