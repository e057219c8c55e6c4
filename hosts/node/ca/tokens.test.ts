import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { base64Encode } from '../../../core/identity/index.ts';
import { register } from '../commands/token.ts';
import { TokenAuthority, TokenError, parseDuration } from './tokens.ts';
import { tempDir } from './test-support.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  cleanups.splice(0).forEach((f) => f());
  vi.restoreAllMocks();
});
function tmp(): ReturnType<typeof tempDir> {
  const t = tempDir('weft-token-');
  cleanups.push(t.cleanup);
  return t;
}

async function run(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  register(program);
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((s: string) => void out.push(s));
  await program.parseAsync(['node', 'weft', ...args]);
  return out.join('\n');
}

const b64json = (v: unknown) => base64Encode(new TextEncoder().encode(JSON.stringify(v)), true);

describe('join tokens', () => {
  test('the key is made once, 0600, in the state directory; tokens name node, gateway and waypoint', async () => {
    const t = tmp();
    const tokens = await TokenAuthority.loadOrCreate(t.dir);
    expect(statSync(join(t.dir, 'token-key')).mode & 0o777).toBe(0o600);
    expect((await TokenAuthority.loadOrCreate(t.dir)).keyId).toBe(tokens.keyId);
    expect(tokens.verify(tokens.create({ kind: 'node', node: 'node-a' }))).toEqual({ kind: 'node', node: 'node-a' });
    expect(tokens.verify(tokens.create({ kind: 'gateway', namespace: 'ingress', name: 'public' }))).toEqual({ kind: 'gateway', namespace: 'ingress', name: 'public' });
    expect(tokens.verify(tokens.create({ kind: 'waypoint', namespace: 'default', name: 'waypoint' }))).toEqual({ kind: 'waypoint', namespace: 'default', name: 'waypoint' });
    const [h, p] = tokens.create({ kind: 'node', node: 'n' }).split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT', kid: tokens.keyId });
    expect(JSON.parse(Buffer.from(p!, 'base64url').toString())).toMatchObject({ iss: 'weft', aud: 'weft-control', sub: 'node/n', iat: expect.any(Number) });
  });

  test('refusals: altered, another key, expired, alg none, not a JWT, unknown subject', async () => {
    const tokens = await TokenAuthority.loadOrCreate(tmp().dir);
    const other = await TokenAuthority.loadOrCreate(tmp().dir);
    const good = tokens.create({ kind: 'node', node: 'node-a' });
    const [h, p, s] = good.split('.') as [string, string, string];
    const forged = `${h}.${b64json({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'node/node-b' })}.${s}`;
    expect(() => tokens.verify(forged)).toThrow(/signature does not verify/);
    expect(() => tokens.verify(other.create({ kind: 'node', node: 'node-a' }))).toThrow(/signed with another control plane's key/);
    const now = Date.now();
    const short = tokens.create({ kind: 'node', node: 'node-a' }, { ttlSeconds: 60, now });
    expect(tokens.verify(short, now + 59_000)).toEqual({ kind: 'node', node: 'node-a' });
    expect(() => tokens.verify(short, now + 61_000)).toThrow(/token expired at/);
    expect(() => tokens.verify(`${b64json({ alg: 'none' })}.${p}.`)).toThrow(/algorithm "none" is not accepted/);
    expect(() => tokens.verify('hello')).toThrow(/not a JWT/);
    expect(() => tokens.verify('a.b.c')).toThrow(TokenError);
    expect(() => tokens.create({ kind: 'node', node: 'a/b' })).toThrow(/not a valid/);
  });

  test('durations', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('7d')).toBe(604800);
    expect(() => parseDuration('soon')).toThrow(/bad duration/);
  });
});

describe('weft token create', () => {
  test('fails with a clear message when the state directory has no key', async () => {
    const t = tmp();
    await expect(run(['token', 'create', '--node', 'node-a', '--state', t.dir])).rejects.toThrow(
      new RegExp(`no token key at ${t.dir}/token-key: start the control plane once with \`weft control --state ${t.dir}\``),
    );
  });

  test('prints a token the control plane accepts', async () => {
    const t = tmp();
    const tokens = await TokenAuthority.loadOrCreate(t.dir);
    expect(tokens.verify(await run(['token', 'create', '--node', 'node-a', '--state', t.dir]))).toEqual({ kind: 'node', node: 'node-a' });
    expect(tokens.verify(await run(['token', 'create', '--waypoint', 'default/waypoint', '--state', t.dir]))).toEqual({ kind: 'waypoint', namespace: 'default', name: 'waypoint' });
    const withTtl = await run(['token', 'create', '--gateway', 'ingress/public', '--state', t.dir, '--ttl', '1h']);
    const claims = JSON.parse(Buffer.from(withTtl.split('.')[1]!, 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(3600);
    await expect(run(['token', 'create', '--state', t.dir])).rejects.toThrow(/exactly one of --node NAME, --gateway NS\/NAME, --waypoint NS\/NAME/);
    await expect(run(['token', 'create', '--gateway', 'public', '--state', t.dir])).rejects.toThrow(/--gateway must be NAMESPACE\/NAME/);
  });
});
