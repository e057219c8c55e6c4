import { describe, expect, it } from 'vitest';
import { istio } from '../xds/pb.ts';
import { compileAuthorization } from './compile.ts';

const { ALLOW, DENY } = istio.security.Action;
const base = { name: 'p', namespace: 'ns', scope: istio.security.Scope.GLOBAL, action: ALLOW };

describe('compileAuthorization', () => {
  it('compiles a decoded policy (wire round trip), CIDRs with text', () => {
    const bytes = istio.security.Authorization.encode({
      ...base,
      action: DENY,
      dryRun: true,
      rules: [{ clauses: [{ matches: [{ sourceIps: [{ address: new Uint8Array([10, 1, 0, 0]), length: 16 }], principals: [{ presence: {} }, { prefix: 'td/' }], destinationPorts: [80] }] }] }],
    }).finish();
    const r = compileAuthorization(istio.security.Authorization.decode(bytes));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.policy).toMatchObject({ key: 'ns/p', scope: 'GLOBAL', action: 'DENY', dryRun: true });
    const m = r.policy.rules[0]!.clauses[0]![0]!;
    expect(m.sourceIps.map((c) => c.text)).toEqual(['10.1.0.0/16']);
    expect(m.principals).toEqual([{ presence: true }, { prefix: 'td/' }]);
    expect(m.destinationPorts).toEqual([80]);
    expect(m.unsupported).toBeUndefined();
  });

  it.each([
    ['no name', { ...base, name: '' }, /no name/],
    ['unknown scope', { ...base, scope: 7 as istio.security.Scope }, /unknown scope 7/],
    ['unknown action', { ...base, action: 2 as istio.security.Action }, /unknown action 2/],
  ])('rejects a policy with %s', (_n, p, msg) => {
    const r = compileAuthorization(p);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(msg);
  });

  it.each([
    ['an empty match', {}, /HTTP-only attribute/],
    ['a malformed IP range', { sourceIps: [{ address: new Uint8Array([1, 2, 3]), length: 8 }] }, /malformed IP range/],
    ['a prefix longer than the address', { notSourceIps: [{ address: new Uint8Array([1, 2, 3, 4]), length: 33 }] }, /malformed IP range/],
    ['an empty string match', { namespaces: [{}] }, /empty string match/],
    ['extensions', { destinationPorts: [1], extensions: [{ name: 'x' }] }, /extensions/],
  ])('marks %s unsupported', (_n, match, msg) => {
    const r = compileAuthorization({ ...base, rules: [{ clauses: [{ matches: [match] }] }] });
    expect(r.ok && r.policy.rules[0]!.clauses[0]![0]!.unsupported).toMatch(msg);
  });

  it('turns clause and rule fields it does not know into fail-closed conditions', () => {
    const unknown = [new Uint8Array([0x38, 1])];
    const r = compileAuthorization({ ...base, rules: [{ clauses: [{ matches: [{ destinationPorts: [1] }], $unknowns: unknown }], $unknowns: unknown }] });
    if (!r.ok) throw new Error(r.message);
    const clauses = r.policy.rules[0]!.clauses;
    expect(clauses).toHaveLength(2);
    expect(clauses.every((c) => c.length === 1 && c[0]!.unsupported)).toBe(true);
  });
});
