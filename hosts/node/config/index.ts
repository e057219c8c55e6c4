/** hosts/node/config: the Node host's config I/O: the watched directory source and the mesh file. */
export { DirectorySource, type DirectorySourceOptions } from './directory-source.ts';
export { readConfigDir, listConfigFiles, isConfigFile, type DirectoryRead } from './read-config-dir.ts';
export { loadMeshFile } from './mesh-file.ts';
