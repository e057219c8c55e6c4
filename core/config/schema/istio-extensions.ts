/**
 * extensions.istio.io/v1alpha1 WasmPlugin (Istio 1.29). Weft loads plugins by URL (file://, http(s)://)
 * with an optional sha256 (design.md 6); the schema keeps every upstream field so users' files validate.
 */
import * as z from './zod.ts';
import { PolicyTargetReference, WorkloadSelector, int32 } from './common.ts';

const VmConfig = z.strictObject({
  env: z
    .array(
      z
        .strictObject({
          name: z.string().min(1, 'must not be empty').max(256),
          value: z.string().max(2048).optional(),
          valueFrom: z.enum(['INLINE', 'HOST']).default('INLINE'),
        })
        .superRefine((e, ctx) => {
          if (e.valueFrom === 'HOST' && e.value !== undefined) ctx.addIssue({ code: 'custom', path: ['value'], message: 'may only be set when valueFrom is INLINE' });
        }),
    )
    .max(256)
    .optional(),
});

const TrafficSelector = z.strictObject({
  mode: z.enum(['UNDEFINED', 'CLIENT', 'SERVER', 'CLIENT_AND_SERVER']).default('UNDEFINED'),
  ports: z.array(z.strictObject({ number: z.int().min(1, 'must be 1..65535').max(65535, 'must be 1..65535') })).optional(),
});

const URL_SCHEMES = ['http', 'https', 'oci', 'file'];

export const WasmPluginSpec = z
  .strictObject({
    selector: WorkloadSelector.optional(),
    targetRef: PolicyTargetReference.optional(),
    targetRefs: z.array(PolicyTargetReference).max(16).optional(),
    url: z
      .string()
      .min(1, 'must not be empty')
      .superRefine((u, ctx) => {
        const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(u);
        // A URL without a scheme is an OCI image reference, as upstream reads it.
        if (m && !URL_SCHEMES.includes(m[1]!.toLowerCase())) ctx.addIssue({ code: 'custom', message: `scheme "${m[1]}" is not supported (one of ${URL_SCHEMES.join(', ')})` });
      }),
    sha256: z.string().regex(/^$|^[a-f0-9]{64}$/, 'must be 64 lower-case hex digits').optional(),
    imagePullPolicy: z.enum(['UNSPECIFIED_POLICY', 'IfNotPresent', 'Always']).optional(),
    imagePullSecret: z.string().min(1).max(253).optional(),
    verificationKey: z.string().optional(),
    pluginConfig: z.record(z.string(), z.unknown()).optional(),
    pluginName: z.string().min(1).max(256).optional(),
    phase: z.enum(['UNSPECIFIED_PHASE', 'AUTHN', 'AUTHZ', 'STATS']).default('UNSPECIFIED_PHASE'),
    priority: int32().optional(),
    failStrategy: z.enum(['FAIL_CLOSE', 'FAIL_OPEN', 'FAIL_RELOAD']).default('FAIL_CLOSE'),
    vmConfig: VmConfig.optional(),
    match: z.array(TrafficSelector).optional(),
    type: z.enum(['UNSPECIFIED_PLUGIN_TYPE', 'HTTP', 'NETWORK']).default('UNSPECIFIED_PLUGIN_TYPE'),
  })
  .superRefine((p, ctx) => {
    const set = [p.selector && 'selector', p.targetRef && 'targetRef', p.targetRefs && 'targetRefs'].filter(Boolean);
    if (set.length > 1) ctx.addIssue({ code: 'custom', message: `only one of selector, targetRef, targetRefs may be set (found ${set.join(', ')})` });
  });

export type WasmPluginSpec = z.output<typeof WasmPluginSpec>;
