import { describe, expect, it } from 'vitest';
import { InstallValueError, KEYS, describeKeys, imageRef, resolveValues } from './values.ts';

describe('install values', () => {
  it('profiles switch components; --set assignments apply in order, the last one winning', () => {
    expect(resolveValues('ambient', []).components).toEqual({ crds: true, control: true, node: true, waypoint: false });
    expect(resolveValues('minimal', []).components).toEqual({ crds: true, control: true, node: false, waypoint: false });
    expect(resolveValues('empty', []).components).toEqual({ crds: false, control: false, node: false, waypoint: false });
    const v = resolveValues('empty', ['components.node=true', 'controlReplicas=3', 'controlReplicas=2', 'nodeSelector.kubernetes.io/os=linux', 'tag=1.2.3']);
    expect(v.components.node).toBe(true);
    expect(v.controlReplicas).toBe(2);
    expect(v.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(imageRef(v)).toBe('ghcr.io/weft-mesh/weft:1.2.3');
    expect(imageRef(resolveValues('empty', ['image=r/w@sha256:ab', 'tag=9']))).toBe('r/w@sha256:ab');
  });

  it('a value may contain "=" (only the first one splits)', () => {
    expect(resolveValues('ambient', ['nodeSelector.pool=a=b']).nodeSelector).toEqual({ pool: 'a=b' });
  });

  it('refuses unknown keys with the list of known ones, and bad values with what is expected', () => {
    const err = (sets: string[], profile = 'ambient') => {
      try {
        resolveValues(profile, sets);
      } catch (e) {
        expect(e).toBeInstanceOf(InstallValueError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    const unknown = err(['hubb=x']);
    expect(unknown).toMatch(/^--set hubb: unknown key\. Known keys:/);
    for (const k of Object.keys(KEYS)) expect(unknown).toContain(`  ${k} `);
    expect(err(['components.node=yes'])).toBe('--set components.node=yes: true or false');
    expect(err(['controlReplicas=0'])).toBe('--set controlReplicas=0: at least 1');
    expect(err(['controlReplicas=-1'])).toBe('--set controlReplicas=-1: a whole number');
    expect(err(['logLevel=trace'])).toBe('--set logLevel=trace: one of info, debug');
    expect(err(['nodeSelector.=x'])).toMatch(/is not a label key/);
    expect(err(['waypoint.name=My_Waypoint'])).toMatch(/not a DNS-1123 label/);
    expect(err(['hub='])).toBe('--set hub: empty value');
    expect(err(['=x'])).toBe('--set =x: expected key=value');
    expect(err([], 'default')).toBe('unknown profile "default": one of ambient, minimal, empty');
  });

  it('describes every key with its default', () => {
    expect(describeKeys()).toMatch(/controlReplicas\s+replicas of the control plane Deployment \(int, default 1\)/);
  });
});
