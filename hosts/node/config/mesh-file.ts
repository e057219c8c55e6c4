/** Reads the `--mesh` MeshConfig file for the Store (ConfigStore's `meshFile` / `setMeshFile`). */
import { readFile } from 'node:fs/promises';
import type { SourceFile } from '../../../core/ports/index.ts';

/** The file as a SourceFile; `path` is shown in messages as given. */
export async function loadMeshFile(path: string): Promise<SourceFile> {
  return { path, text: await readFile(path, 'utf8') };
}
