/** `weft proxy-config` and `weft version` helpers: locate a proxy, read its dump, format it. */
export * from './dump.ts';
export * from './locate.ts';
export * from './secrets.ts';
export * from './tables.ts';
export * from './run.ts';
export * from './versions.ts';
