/**
 * Building blocks shared by the resource schemas: Kubernetes names and labels, ports, durations,
 * regexes, IPs, Istio's StringMatch and selectors. Each check carries the message a user reads
 * (`must be 1..65535`), since zod's defaults speak about types rather than fields.
 */
import * as z from './zod.ts';
import { parseGatewayDuration, parseGoDuration } from './duration.ts';
import { checkRegex } from './regex.ts';
import { isCIDR, isIP, isIPOrCIDR } from '../../net/ip.ts';

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** RFC 7230 token: what Gateway API's HTTPHeaderName pattern allows. */
export const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
/** Gateway API Hostname: an optional leading `*.` then a DNS subdomain. */
export const GATEWAY_HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function dnsLabelProblem(s: string): string | undefined {
  if (s.length > 63) return 'must be at most 63 characters';
  if (!DNS_LABEL.test(s)) return 'must be a DNS-1123 label (lower case letters, digits and -, starting and ending with a letter or digit)';
  return undefined;
}

export function dns1035Problem(s: string): string | undefined {
  if (s.length > 63) return 'must be at most 63 characters';
  if (!DNS_1035_LABEL.test(s)) return 'must be a DNS-1035 label (lower case letters, digits and -, starting with a letter)';
  return undefined;
}

export function dnsSubdomainProblem(s: string): string | undefined {
  if (s.length > 253) return 'must be at most 253 characters';
  if (!DNS_SUBDOMAIN.test(s)) return 'must be a DNS-1123 subdomain (lower case letters, digits, - and .)';
  return undefined;
}

/** Kubernetes qualified name: `[prefix/]name`, prefix a DNS subdomain, name up to 63 characters. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix === '' || dnsSubdomainProblem(prefix))) return 'key prefix must be a DNS-1123 subdomain';
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return 'key must be a qualified name (up to 63 letters, digits, -, _ or ., starting and ending with a letter or digit, with an optional DNS prefix and /)';
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    return 'must be a label value (up to 63 letters, digits, -, _ or ., starting and ending with a letter or digit)';
  }
  return undefined;
}

const refineWith = (problem: (s: string) => string | undefined) =>
  (s: string, ctx: z.core.$RefinementCtx<string>) => {
    const p = problem(s);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  };

export const str = () => z.string();
export const nonEmpty = () => z.string().min(1, 'must not be empty');
export const bool = () => z.boolean();
export const int32 = () => z.int().min(-2147483648, 'must be a 32-bit integer').max(2147483647, 'must be a 32-bit integer');
export const uint32 = () => z.int().min(0, 'must be 0 or more').max(4294967295, 'must be at most 4294967295');
export const intRange = (min: number, max: number) =>
  z.int().min(min, `must be ${min}..${max}`).max(max, `must be ${min}..${max}`);
export const numberRange = (min: number, max: number) =>
  z.number().min(min, `must be ${min}..${max}`).max(max, `must be ${min}..${max}`);
export const port = () => intRange(1, 65535);
export const dnsLabel = () => z.string().superRefine(refineWith(dnsLabelProblem));
export const dnsSubdomain = () => z.string().superRefine(refineWith(dnsSubdomainProblem));
export const stringList = () => z.array(z.string());

/** Istio duration: Go syntax, at least 1ms (the CRDs' CEL rule). */
export const duration = () =>
  z.string().superRefine((s, ctx) => {
    const ms = parseGoDuration(s);
    if (ms === undefined) ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration (write e.g. 1.5s, 300ms, 1m)` });
    else if (ms < 1) ctx.addIssue({ code: 'custom', message: 'must be a duration of at least 1ms' });
  });

/** Gateway API Duration (GEP-2257): `1h`, `30s`, `500ms`, up to four parts, no fractions. */
export const gatewayDuration = () =>
  z.string().superRefine((s, ctx) => {
    if (parseGatewayDuration(s) === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${s}" is not a Gateway API duration (write e.g. 10s, 500ms, 1m30s)` });
    }
  });

export const regex = () => z.string().superRefine(refineWith((s) => checkRegex(s)));
export const ipAddress = () => z.string().superRefine(refineWith((s) => (isIP(s) ? undefined : `"${s}" is not an IP address`)));
export const cidr = () => z.string().superRefine(refineWith((s) => (isCIDR(s) ? undefined : `"${s}" is not a CIDR block`)));
export const ipOrCidr = () =>
  z.string().superRefine(refineWith((s) => (isIPOrCIDR(s) ? undefined : `"${s}" is not an IP address or CIDR block`)));
export const headerName = () =>
  z.string().superRefine(refineWith((s) => (HEADER_NAME.test(s) ? undefined : `"${s}" is not a valid HTTP header name`)));

/** Labels and selectors: keys are qualified names, values label values (Kubernetes' rules). */
export const labelMap = () =>
  z.record(z.string(), z.string()).superRefine((m, ctx) => {
    for (const [k, v] of Object.entries(m)) {
      const p = labelKeyProblem(k) ?? labelValueProblem(v);
      if (p) ctx.addIssue({ code: 'custom', path: [k], message: p });
    }
  });

export const stringMap = () => z.record(z.string(), z.string());

/** Istio StringMatch: at most one of exact, prefix, regex (proto oneof). */
export const StringMatch = z
  .strictObject({ exact: z.string().optional(), prefix: z.string().optional(), regex: regex().optional() })
  .superRefine((m, ctx) => {
    const set = ['exact', 'prefix', 'regex'].filter((k) => m[k as keyof typeof m] !== undefined);
    if (set.length > 1) ctx.addIssue({ code: 'custom', message: `only one of exact, prefix, regex may be set (found ${set.join(', ')})` });
  });
export type StringMatch = z.output<typeof StringMatch>;

/** Istio selectors: matchLabels without wildcards. */
export const WorkloadSelector = z.strictObject({
  matchLabels: z
    .record(z.string(), z.string())
    .superRefine((m, ctx) => {
      for (const [k, v] of Object.entries(m)) {
        if (k === '') ctx.addIssue({ code: 'custom', path: [k], message: 'key must not be empty' });
        else if (k.includes('*') || v.includes('*')) ctx.addIssue({ code: 'custom', path: [k], message: 'wildcards are not allowed in selectors' });
        else if (v.length > 63) ctx.addIssue({ code: 'custom', path: [k], message: 'must be at most 63 characters' });
      }
    })
    .optional(),
});

const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
export const group = () => z.string().max(253, 'must be at most 253 characters').regex(GROUP, 'must be empty or a DNS-1123 subdomain');
export const kind = () => z.string().min(1, 'must not be empty').max(63, 'must be at most 63 characters').regex(KIND, 'must be a Kind name (letters, digits and -)');
export const objectName = () => z.string().min(1, 'must not be empty').max(253, 'must be at most 253 characters');

/** Istio PolicyTargetReference (targetRef / targetRefs of policies): same namespace only. */
export const PolicyTargetReference = z.strictObject({
  group: group().optional(),
  kind: kind(),
  name: objectName(),
  namespace: z.string().max(0, 'cross-namespace references are not supported').optional(),
});

/** Rejects more than one of the named keys being set (CRD `oneOf` / CEL exclusivity rules). */
export function atMostOne<T extends object>(keys: readonly (keyof T & string)[], what?: string) {
  return (v: T, ctx: z.core.$RefinementCtx<T>) => {
    const set = keys.filter((k) => v[k] !== undefined);
    if (set.length > 1) ctx.addIssue({ code: 'custom', message: what ?? `only one of ${keys.join(', ')} may be set (found ${set.join(', ')})` });
  };
}
