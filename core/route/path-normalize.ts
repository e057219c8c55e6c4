/**
 * Request path normalization before routing and authorization, as Envoy's HCM `normalize_path`
 * (RFC 3986 section 5.2.4 dot-segment removal) and, optionally, `merge_slashes`. Istio turns the
 * first on by default (MeshConfig `pathNormalization: BASE`) because an AuthorizationPolicy on
 * `/admin*` must see `/public/../admin` as `/admin`; the normalized path is also what is forwarded.
 * The query is never touched. Returns undefined when the target is already normal (the usual
 * request: one scan, no allocation).
 */

/** Whether the path part of `target` (up to `?`) has a dot segment or, with `mergeSlashes`, `//`. */
function needsWork(target: string, mergeSlashes: boolean): boolean {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return false;
    if (c === 47 /* / */) {
      const n = target.charCodeAt(i + 1);
      if (mergeSlashes && n === 47) return true;
      if (n === 46 /* . */) {
        const n2 = target.charCodeAt(i + 2);
        if (Number.isNaN(n2) || n2 === 47 || n2 === 63 || n2 === 35) return true; // "/." then end or separator
        if (n2 === 46) {
          const n3 = target.charCodeAt(i + 3);
          if (Number.isNaN(n3) || n3 === 47 || n3 === 63 || n3 === 35) return true; // "/.."
        }
      }
    }
  }
  return false;
}

export function normalizePath(target: string, opts: { mergeSlashes?: boolean } = {}): string | undefined {
  const merge = opts.mergeSlashes ?? false;
  if (target.charCodeAt(0) !== 47 || !needsWork(target, merge)) return undefined;
  let q = target.length;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 || c === 35) {
      q = i;
      break;
    }
  }
  const out: string[] = [];
  const segments = target.slice(1, q).split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else if (s === '' && merge && !last) {
      // "//" merged
    } else out.push(s);
  }
  return `/${out.join('/')}${target.slice(q)}`;
}
