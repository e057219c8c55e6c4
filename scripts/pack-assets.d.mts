// Types of pack-assets.mjs (the binary's asset archive), for the TypeScript tests that use it.
export interface PackEntry {
  /** the path inside the archive (relative, `/`-separated) */
  path: string;
  /** the file to read */
  file: string;
}
export function collectFiles(root: string, prefix: string, filter?: (file: string) => boolean): Promise<PackEntry[]>;
export function packAssets(entries: PackEntry[]): Promise<{ archive: Buffer; id: string; files: number; rawBytes: number }>;
