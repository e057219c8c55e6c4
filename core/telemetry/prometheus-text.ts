/**
 * Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), the small part
 * the TCP counters need: HELP/TYPE lines and `name{label="value",...} number` samples. Label
 * strings are rendered once per series and cached by the caller, never per scrape or per chunk.
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Escapes a label value: backslash, double quote and line feed, as the format requires. */
export function escapeLabelValue(value: string): string {
  if (!/[\\"\n]/.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** `{a="1",b="2"}` for the given names, in that order; `''` for no labels. */
export function renderLabels<T extends object>(labels: T, names: readonly (keyof T)[]): string {
  if (names.length === 0) return '';
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (i > 0) out += ',';
    out += `${String(name)}="${escapeLabelValue(String(labels[name]))}"`;
  }
  return out + '}';
}

/** A sample value as Prometheus writes it (integers without exponent up to 2^53). */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return Number.isInteger(n) && Math.abs(n) < 2 ** 53 ? n.toFixed(0) : String(n);
}

/** HELP and TYPE header of one metric family. */
export function familyHeader(name: string, help: string, type: 'counter' | 'gauge' | 'histogram'): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}
