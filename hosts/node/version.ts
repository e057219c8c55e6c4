/** Set by build.mjs from package.json; the fallback serves runs from source (tests). */
declare const __WEFT_VERSION__: string | undefined;
export const WEFT_VERSION: string = typeof __WEFT_VERSION__ === 'string' ? __WEFT_VERSION__ : '0.0.0-dev';
