/**
 * Pieces shared by Istio's networking kinds: hostnames as VirtualService/DestinationRule/ServiceEntry
 * spell them, destinations, header operations, percentages, port selectors and exportTo.
 */
import * as z from './zod.ts';
import { DNS_LABEL, HEADER_NAME, numberRange, port } from './common.ts';
import { isIP } from '../../net/ip.ts';

/** Istio's ValidateWildcardDomain: `*`, `*.example.com`, `*example.com`, an FQDN or a short name. */
export function istioHostProblem(host: string, opts: { allowIP?: boolean } = {}): string | undefined {
  if (host === '') return 'must not be empty';
  if (opts.allowIP !== false && isIP(host)) return undefined;
  if (host.length > 255) return 'must be at most 255 characters';
  let rest = host;
  if (rest.startsWith('*')) {
    rest = rest.slice(1);
    if (rest === '') return undefined;
    if (rest.startsWith('.')) rest = rest.slice(1);
  }
  const labels = rest.endsWith('.') ? rest.slice(0, -1).split('.') : rest.split('.');
  for (const label of labels) {
    if (label.length === 0 || label.length > 63 || !/^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/.test(label)) {
      return `"${host}" is not a valid host name (DNS name, optionally with a leading *)`;
    }
  }
  return undefined;
}

export const istioHost = (opts: { allowIP?: boolean } = {}) =>
  z.string().superRefine((s, ctx) => {
    const p = istioHostProblem(s, opts);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  });

export const PortSelector = z.strictObject({ number: port() });

export const Destination = z.strictObject({
  host: z.string().min(1, 'must not be empty'),
  subset: z.string().optional(),
  port: PortSelector.optional(),
});
export type Destination = z.output<typeof Destination>;

export const Percent = z.strictObject({ value: numberRange(0, 100) });

const headerNameKeys = (m: Record<string, string>, ctx: z.core.$RefinementCtx<Record<string, string>>) => {
  for (const k of Object.keys(m)) {
    if (!HEADER_NAME.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: `"${k}" is not a valid HTTP header name` });
  }
};
const HeaderOperations = z.strictObject({
  set: z.record(z.string(), z.string()).superRefine(headerNameKeys).optional(),
  add: z.record(z.string(), z.string()).superRefine(headerNameKeys).optional(),
  remove: z
    .array(z.string().superRefine((s, ctx) => {
      if (!HEADER_NAME.test(s)) ctx.addIssue({ code: 'custom', message: `"${s}" is not a valid HTTP header name` });
    }))
    .optional(),
});
export const Headers = z.strictObject({ request: HeaderOperations.optional(), response: HeaderOperations.optional() });

/** exportTo: `.`, `*`, `~` or a namespace name. */
export const exportTo = () =>
  z
    .array(
      z.string().superRefine((s, ctx) => {
        if (s !== '.' && s !== '*' && s !== '~' && !DNS_LABEL.test(s)) {
          ctx.addIssue({ code: 'custom', message: `"${s}" must be ".", "*", "~" or a namespace name` });
        }
      }),
    )
    .optional();
