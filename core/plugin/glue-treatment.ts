/**
 * What the hosts change in jco's glue before they load it (Node's prepared store and in-memory
 * transpile, the workerd deploy step through the same path), as plain data: the prepared-store
 * writer runs in a child process from module source and embeds these rules as JSON.
 *
 * Each rule is an exact text (or a regular expression) of jco-transpile 0.1.1's output; a rule that
 * does not match (another jco version) leaves the glue as it was, which is correct, only slower.
 * Why each rule, measured in process on header-rewrite (request + response phase, 5 boundary
 * crossings per request, Node 20 on this 2-core machine):
 * - the JCO_DEBUG check: the glue read `process.env.JCO_DEBUG` on every call (2-3 us).
 * - task bookkeeping: every host and guest call made an AsyncTask (a Promise.withResolvers, two
 *   closures, a Map lookup, two array pushes and pops) for the component-model-async machinery. Our
 *   worlds are synchronous and nothing reads those tasks (the async entry points that would are
 *   never called), so start/end become no-ops (~0.5-1 us per request).
 * - strings lowered into the guest (`utf8Encode`): TextEncoder.encode allocated a fresh buffer and
 *   crossed into C++ for every header value; an ASCII string (header names and values nearly
 *   always are) is now written straight into guest memory, anything else goes the old way.
 * - strings lifted out of the guest: TextDecoder.decode over a new Uint8Array view crossed into C++
 *   for every name and value; short ASCII strings are now read by a loop, others as before. The
 *   loop built each string a character at a time (an intermediate string per character), so the
 *   last ASCII string per slot of a 64-slot table is returned again when every byte matches: a
 *   filter's repeated names and constant values cost a compare, no allocation (issue 5, plugcost:
 *   the gateway's plugin path 2.8 -> 1.7 KB allocated per request with the view changes).
 *   PREPARED_FORMAT (prepared-store.ts) must be bumped with any change here.
 * - `dataView(memory)` and the string helpers read `memory.buffer` (a C++ getter) on every access;
 *   they keep their view until the memory grows (which detaches the old buffer).
 * Together: header-rewrite 9.2 -> 6.8 us of CPU per request (mean with GC, in process).
 */

export interface GlueRule {
  /** the exact text to replace, or a regular expression's source when `regex` is set */
  find: string;
  replace: string;
  regex?: boolean;
  /** module-level code the replacement needs, put at the start of the glue when the rule matched */
  prelude?: string;
}

const ASCII_ENCODE = `    // weft: ASCII written straight into guest memory (no TextEncoder buffer, no C++ call)
    const n = s.length;
    let ascii = true;
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 127) { ascii = false; break; }
    if (ascii) {
      const ptr = realloc(0, 0, 1, n);
      const out = weftBytesOf(memory);
      for (let i = 0; i < n; i++) out[ptr + i] = s.charCodeAt(i);
      utf8EncodedLen = n;
      return ptr;
    }
    let buf = utf8Encoder.encode(s);`;

const ASCII_DECODE = `  const utf8Decoder = new TextDecoder();
  // weft: a byte view of the memory kept across calls. Memory#buffer is a C++ getter; a memory that
  // grows detaches its old buffer (length 0 then), which is when the view is made again. A shared
  // memory's buffer does not detach, so it is read every time.
  let weftMem = null;
  let weftBytes = new Uint8Array(0);
  function weftBytesOf(memory) {
    if (memory === weftMem && weftBytes.length !== 0) return weftBytes;
    const buf = memory.buffer;
    weftBytes = new Uint8Array(buf);
    weftMem = typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer ? null : memory;
    return weftBytes;
  }
  // weft: short ASCII read by a loop (no view, no C++ call); anything else through TextDecoder.
  // A guest passes the same few names and values on every call (header names, constant values):
  // the last ASCII string per slot is kept and returned when every byte matches, so a repeated
  // string costs a compare, no allocation, and is the same string object the host saw before.
  const weftSeen = new Array(64).fill('');
  function weftUtf8Decode(memory, ptr, len) {
    if (len <= 64) {
      if (len === 0) return '';
      const b = weftBytesOf(memory);
      const end = ptr + len;
      const slot = (len * 7 + b[ptr] * 3 + b[end - 1]) & 63;
      const seen = weftSeen[slot];
      if (seen.length === len) {
        let i = 0;
        while (i < len && seen.charCodeAt(i) === b[ptr + i]) i++;
        if (i === len) return seen;
      }
      let s = '';
      for (let i = ptr; i < end; i++) {
        const c = b[i];
        if (c > 127) return utf8Decoder.decode(new Uint8Array(memory.buffer, ptr, len));
        s += String.fromCharCode(c);
      }
      weftSeen[slot] = s;
      return s;
    }
    return utf8Decoder.decode(new Uint8Array(memory.buffer, ptr, len));
  }
`;

export const GLUE_RULES: readonly GlueRule[] = [
  { find: 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }', replace: 'return;' },
  { find: '  function startCurrentTask(componentIdx, isAsync, entryFnName) {\n', replace: '  function startCurrentTask(componentIdx, isAsync, entryFnName) {\n    return 0; // weft: synchronous worlds, no task is ever read\n' },
  { find: '  function endCurrentTask(componentIdx, taskId) {\n', replace: '  function endCurrentTask(componentIdx, taskId) {\n    return undefined; // weft: see startCurrentTask\n' },
  { find: '    let buf = utf8Encoder.encode(s);', replace: ASCII_ENCODE },
  { find: '  const utf8Decoder = new TextDecoder();\n', replace: ASCII_DECODE },
  {
    find: '  const dataView = mem => dv.buffer === mem.buffer ? dv : dv = new DataView(mem.buffer);',
    replace: `  // weft: as weftBytesOf (no Memory#buffer getter per access; a grown memory detached the old buffer)
  let dvMem = null;
  const dataView = (mem) => (mem === dvMem && dv.buffer.byteLength !== 0 ? dv : ((dv = new DataView(mem.buffer)), (dvMem = typeof SharedArrayBuffer !== 'undefined' && dv.buffer instanceof SharedArrayBuffer ? null : mem), dv));`,
  },
  { find: 'utf8Decoder\\.decode\\(new Uint8Array\\((memory\\d+)\\.buffer, (ptr\\d+), (len\\d+)\\)\\)', replace: 'weftUtf8Decode($1, $2, $3)', regex: true },
  // a result case without a payload (`continue`, `allow`) lifted as one frozen object, not a new one per call
  {
    find: "(variant\\d+)= \\{\\n\\s*tag: '(continue|allow)',\\n\\s*\\};",
    replace: '$1 = WEFT_TAG_$2;',
    regex: true,
    prelude: "// weft: payload-free result cases, one frozen object each\nconst WEFT_TAG_continue = Object.freeze({ tag: 'continue' });\nconst WEFT_TAG_allow = Object.freeze({ tag: 'allow' });\n",
  },
];

/** Applies the rules (the first match of a plain rule, every match of a regular expression). */
export function treatGlue(glue: string, rules: readonly GlueRule[] = GLUE_RULES): string {
  return applyGlueRules(glue, rules);
}

/**
 * treatGlue's work, with no free name but built-ins: the prepared-store writer, which runs as module
 * source of its own, embeds this function's text (`applyGlueRules.toString()`).
 */
export function applyGlueRules(glue: string, rules: readonly GlueRule[]): string {
  let out = glue;
  let prelude = '';
  for (const r of rules) {
    const before = out;
    out = r.regex ? out.replace(new RegExp(r.find, 'g'), r.replace) : out.replace(r.find, () => r.replace);
    if (r.prelude !== undefined && out !== before) prelude += r.prelude;
  }
  return prelude + out;
}
