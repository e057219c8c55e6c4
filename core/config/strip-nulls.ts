/**
 * YAML's `field:` with nothing after it is null; Kubernetes treats a null field as absent. Removing
 * nulls from maps before validation gives the same reading (nulls inside lists stay, and fail).
 */
export function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = stripNulls(v);
    return out;
  }
  return value;
}
