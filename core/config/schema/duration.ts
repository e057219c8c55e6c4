/**
 * Durations as users write them. Istio's CRDs check `duration(self) >= duration('1ms')` in CEL, which
 * reads Go's syntax (`1.5s`, `300ms`, `1h30m`); Gateway API has its own stricter GEP-2257 form
 * (`^([0-9]{1,5}(h|m|s|ms)){1,4}$`). Values stay strings in resources; consumers call these to read them.
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const GO_PART = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)/y;

/** Go `time.ParseDuration` in milliseconds; undefined when the text is not a duration. */
export function parseGoDuration(text: string): number | undefined {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  GO_PART.lastIndex = 0;
  while (GO_PART.lastIndex < s.length) {
    const at = GO_PART.lastIndex;
    const m = GO_PART.exec(s);
    if (!m || m.index !== at) return undefined;
    const num = m[1]!;
    if (num === '' || num === '.') return undefined;
    total += Number(num) * UNIT_MS[m[2]!]!;
  }
  return sign * total;
}

const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;

/** Gateway API Duration (GEP-2257) in milliseconds; undefined when it does not match the pattern. */
export function parseGatewayDuration(text: string): number | undefined {
  if (!GATEWAY_DURATION.test(text)) return undefined;
  return parseGoDuration(text);
}

/** Either form, for code that reads a duration field without caring which API it came from. */
export function durationMs(text: string): number | undefined {
  return parseGoDuration(text);
}
