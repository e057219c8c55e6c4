/**
 * Gateway API Inference Extension v1.x: InferencePool (`inference.networking.k8s.io/v1`, and the older
 * `inference.networking.x-k8s.io/v1alpha2` whose fields differ: it is read with its own schema and
 * converted to the v1 shape, so consumers see one type) and InferenceObjective (v1alpha2).
 */
import * as z from './zod.ts';
import { group, kind, labelKeyProblem, labelValueProblem, objectName, port } from './common.ts';

const matchLabels = () =>
  z.record(z.string(), z.string()).superRefine((m, ctx) => {
    const n = Object.keys(m).length;
    if (n < 1 || n > 64) ctx.addIssue({ code: 'custom', message: 'must have 1..64 labels' });
    for (const [k, v] of Object.entries(m)) {
      const p = labelKeyProblem(k) ?? labelValueProblem(v);
      if (p) ctx.addIssue({ code: 'custom', path: [k], message: p });
    }
  });

const FailureMode = z.enum(['FailOpen', 'FailClose']);

export const InferencePoolSpec = z
  .strictObject({
    selector: z.strictObject({ matchLabels: matchLabels() }),
    targetPorts: z.array(z.strictObject({ number: port() })).min(1, 'must have at least one port').max(8, 'must have at most 8 ports'),
    appProtocol: z.enum(['http', 'kubernetes.io/h2c']).optional(),
    endpointPickerRef: z
      .strictObject({
        group: group().default(''),
        kind: kind().default('Service'),
        name: objectName(),
        port: z.strictObject({ number: port() }).optional(),
        failureMode: FailureMode.default('FailClose'),
      })
      .superRefine((r, ctx) => {
        if (r.group === '' && r.kind === 'Service' && !r.port) ctx.addIssue({ code: 'custom', path: ['port'], message: 'is required when the endpoint picker is a Service' });
      }),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<number>();
    s.targetPorts.forEach((p, i) => {
      if (seen.has(p.number)) ctx.addIssue({ code: 'custom', path: ['targetPorts', i, 'number'], message: `port ${p.number} is listed twice` });
      seen.add(p.number);
    });
  });
export type InferencePoolSpec = z.output<typeof InferencePoolSpec>;

/** v1alpha2 as users still write it; converted to the v1 shape after validation. */
export const InferencePoolV1alpha2Spec = z
  .strictObject({
    selector: matchLabels(),
    targetPortNumber: port(),
    extensionRef: z.strictObject({
      group: group().default(''),
      kind: kind().default('Service'),
      name: objectName(),
      portNumber: port().optional(),
      failureMode: FailureMode.default('FailClose'),
    }),
  })
  .transform(
    (s): InferencePoolSpec => ({
      selector: { matchLabels: s.selector },
      targetPorts: [{ number: s.targetPortNumber }],
      endpointPickerRef: {
        group: s.extensionRef.group,
        kind: s.extensionRef.kind,
        name: s.extensionRef.name,
        // v1alpha2: "implementations SHOULD infer a default value of 9002 when the Kind is Service".
        port: { number: s.extensionRef.portNumber ?? 9002 },
        failureMode: s.extensionRef.failureMode,
      },
    }),
  );

export const InferenceObjectiveSpec = z.strictObject({
  priority: z.int().optional(),
  poolRef: z.strictObject({
    group: group().default('inference.networking.k8s.io'),
    kind: kind().default('InferencePool'),
    name: objectName(),
  }),
});
export type InferenceObjectiveSpec = z.output<typeof InferenceObjectiveSpec>;
