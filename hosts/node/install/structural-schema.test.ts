import { describe, expect, it } from 'vitest';
import * as z from '../../../core/config/schema/zod.ts';
import { toStructural } from './structural-schema.ts';
import { structuralProblems } from './structural-check.ts';

const P = 'x-kubernetes-preserve-unknown-fields';
const convert = (schema: z.ZodType) => toStructural(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-7' }) as Record<string, unknown>);

describe('zod schema -> Kubernetes structural schema', () => {
  it('types every node, keeps unknown fields and leaves out defaults, propertyNames and $schema', () => {
    const s = convert(z.strictObject({ name: z.string().min(1), port: z.int().min(1).max(65535).default(80), labels: z.record(z.string(), z.string()).optional(), any: z.unknown() }));
    expect(s).toEqual({
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        any: { [P]: true },
      },
      required: ['name'],
      [P]: true,
    });
    expect(structuralProblems({ type: 'object', properties: { spec: s } })).toEqual([]);
  });

  it('folds unions into what Kubernetes can say', () => {
    expect(convert(z.union([z.literal(301), z.literal(302)]))).toEqual({ type: 'number', enum: [301, 302] });
    expect(convert(z.union([z.int(), z.string()]))).toEqual({ 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] });
    expect(convert(z.string().nullable())).toEqual({ type: 'string', nullable: true });
    expect(convert(z.union([z.object({ a: z.string() }), z.object({ b: z.int() })]))).toEqual({
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } },
      [P]: true,
    });
    expect(convert(z.union([z.string(), z.array(z.string())]))).toEqual({ [P]: true });
    expect(convert(z.number().gt(0))).toEqual({ type: 'number', minimum: 0, exclusiveMinimum: true });
  });
});
