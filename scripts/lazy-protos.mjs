// Post-processes a pbjs static module so that each message type is built the first time it is
// reached, not when the module loads. pbjs writes every type as `ns.Name = (function() { ... })();`:
// loading xds-pb.js ran ~420 of them (a constructor, a prototype with its defaults, encode and
// decode closures each), +1.9 MB of heap on top of the source text in every process that loads it,
// while `weft up` and a proxy touch the few dozen types their config holds (encode and decode reach
// a nested type through `$root.a.b.Type` only when its field is present). Here each message type is
// a getter on its namespace that runs the same function once and keeps the result.
//
// Static code still: no eval or `new Function` (workerd, design.md 8). The getter stays in place
// (a closure variable holds the type), so the namespace objects keep their shape; V8 inlines the
// getter in optimized code. Enums and namespaces stay eager (they are small objects).

const HELPER = [
  '',
  '// scripts/lazy-protos.mjs: message types are built on first access',
  'const $lazy = (ns, name, make) => {',
  '    let type;',
  '    $Object.defineProperty(ns, name, { enumerable: true, configurable: true, get: () => type ?? (type = make()) });',
  '};',
  '',
].join('\n');

/** Rewrites `ns.Name = (function() {` ... `})();` of every message type to `$lazy(ns, "Name", function() {` ... `});`. */
export function lazyMessageTypes(code) {
  const lines = code.split('\n');
  const open = /^(\s*)([\w$]+)\.([\w$]+) = \(function\(\) \{$/;
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    const m = open.exec(lines[i]);
    if (!m) continue;
    const [, indent, ns, name] = m;
    let j = i + 1;
    while (j < lines.length && lines[j].trim() === '') j++;
    // a message type begins with its constructor (an enum with `const valuesById`, a namespace with `const x = {}`)
    if (!new RegExp(`^\\s*(const ${name.replace(/\$/g, '\\$')} = function|function ${name.replace(/\$/g, '\\$')})\\s*\\(properties\\)`).test(lines[j] ?? '')) continue;
    let k = j;
    while (k < lines.length && lines[k] !== `${indent}})();`) k++;
    if (k === lines.length) throw new Error(`lazy-protos: no end for ${ns}.${name}`);
    lines[i] = `${indent}$lazy(${ns}, "${name}", function() {`;
    lines[k] = `${indent}});`;
    count++;
  }
  if (!count) return code;
  // after the aliases pbjs declares ($Object among them), before the first namespace
  const at = lines.findIndex((l) => l.startsWith('const $root = '));
  if (at < 0 || !lines.slice(0, at).some((l) => l.includes('$Object ='))) throw new Error('lazy-protos: unexpected module prelude');
  lines.splice(at, 0, HELPER);
  return lines.join('\n');
}
